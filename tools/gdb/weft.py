# gdb extension for weft: lists every task of every scheduler and shows the
# backtrace of a suspended task or coroutine, in a running process or a
# core file. It needs no debug information: the library describes its own
# records in the table `weft__debugger` (src/sched/debugger.c) and lists its
# live schedulers under `weft__debugger_scheds`.
#
#   info weft-tasks      id, name, state and what each task waits on, per thread
#   weft-bt ID|NAME      backtrace of a suspended task (or of the weft_co
#                        at an address: weft-bt 0x7ffff7fc1f00)
#
# Installed beside the library as libweft.so.<version>-gdb.py, gdb loads it
# for every program linked with libweft.so (see `info auto-load`); for a
# static link, `source <prefix>/share/weft/gdb/weft.py`.

import struct
import time

import gdb

try:
    from gdb.unwinder import Unwinder, register_unwinder
except ImportError:  # gdb older than 7.10
    Unwinder = None
try:
    from gdb.unwinder import FrameId
except ImportError:  # before gdb 14, any object with sp and pc will do

    class FrameId:
        def __init__(self, sp, pc):
            self.sp = sp
            self.pc = pc

LAYOUT_VERSION = 1
MAGIC = 0x74666577

# The entries of weft__debugger after its header and reason_names, in order.
ENTRIES = (
    "n_reasons",
    "sched_all", "sched_current", "sched_loop", "sched_heap", "sched_dbg_next", "sched_tid",
    "timer_size", "timer_when",
    "task_co", "task_resume", "task_next_all", "task_state", "task_cancelled", "task_flags",
    "task_reason", "task_obj", "task_since", "task_heap_idx",
    "co_sp", "co_resumer", "co_state", "co_kind", "co_id", "co_name", "co_stack_size",
    "co_sh_on", "co_image_ext", "co_image_len", "co_size", "co_inl_cap",
    "shared_lo", "shared_hi", "shared_owner",
)

TASK_STATES = ("ready", "running", "waiting", "done")
CO_STATES = ("dead", "suspended", "active", "created", "freed")
STACK_SHARED = 2  # WEFT_STACK_SHARED

# The saved context of each ABI (src/arch/*.S): byte offset of each
# callee-saved register from the saved stack pointer, the offset of the
# resume address, and the bytes of context above the stack pointer (the
# caller's stack pointer is sp + frame).
ARCHES = {
    "i386:x86-64": {
        "pc": "rip", "sp": "rsp", "ret": 48, "frame": 56,
        "regs": {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbx": 32, "rbp": 40},
    },
    "aarch64": {
        "pc": "pc", "sp": "sp", "ret": 88, "frame": 176,
        "regs": dict([("x%d" % (19 + i), 8 * i) for i in range(10)] + [("x29", 80), ("x30", 88)]),
    },
    "riscv:rv64": {
        "pc": "pc", "sp": "sp", "ret": 0, "frame": 208,
        "regs": dict([("ra", 0), ("fp", 8)] + [("s%d" % i, 8 + 8 * i) for i in range(1, 12)]),
    },
}


class WeftError(Exception):
    pass


def _mem(addr, n):
    return bytes(gdb.selected_inferior().read_memory(addr, n))


def _u(addr, size):
    fmt = {1: "<B", 4: "<I", 8: "<Q"}[size]
    return struct.unpack(fmt, _mem(addr, size))[0]


def _ptr(addr):
    return _u(addr, 8)


def _i64(addr):
    return struct.unpack("<q", _mem(addr, 8))[0]


def _cstr(addr, cap=64):
    if not addr:
        return None
    raw = _mem(addr, cap)
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _address_of(symbol):
    try:
        return int(gdb.parse_and_eval("(unsigned long)&%s" % symbol))
    except gdb.error:
        raise WeftError("no symbol %s: is the program linked with weft, and not stripped?" % symbol)


class Layout:
    """weft__debugger, read from the inferior."""

    def __init__(self):
        base = _address_of("weft__debugger")
        magic, version, ptr_size, size = struct.unpack("<4I", _mem(base, 16))
        if magic != MAGIC:
            raise WeftError("weft__debugger has a wrong magic number")
        if version != LAYOUT_VERSION or ptr_size != 8:
            raise WeftError("this extension reads layout version %d, the library has %d"
                            % (LAYOUT_VERSION, version))
        words = struct.unpack("<%dI" % len(ENTRIES), _mem(base + 24, 4 * len(ENTRIES)))
        for name, value in zip(ENTRIES, words):
            setattr(self, name, value)
        names = _ptr(base + 16)
        self.reasons = [_cstr(_ptr(names + 8 * i)) for i in range(self.n_reasons)]
        self.scheds_head = _address_of("weft__debugger_scheds")


class Co:
    def __init__(self, L, addr):
        self.addr = addr
        self.sp = _ptr(addr + L.co_sp)
        self.resumer = _ptr(addr + L.co_resumer)
        self.state = _u(addr + L.co_state, 1)
        self.kind = _u(addr + L.co_kind, 1)
        self.id = _u(addr + L.co_id, 4)
        self.name = _cstr(_ptr(addr + L.co_name))
        self.shared = self.kind == STACK_SHARED
        self.on = _ptr(addr + L.co_sh_on) if self.shared else 0
        self.L = L

    def label(self):
        return "#%d '%s'" % (self.id, self.name) if self.name else "#%d" % self.id

    def frames_in_place(self):
        """Are its frames on its stack (private, or the owner of its shared one)?"""
        if not self.shared:
            return True
        return self.on != 0 and _ptr(self.on + self.L.shared_owner) == self.addr

    def image(self):
        """The saved bytes of a shared coroutine's frames and the address they belong at."""
        L = self.L
        hi = _ptr(self.on + L.shared_hi)
        n = _u(self.addr + L.co_image_len, 4)
        inl = self.addr + L.co_size
        if n > L.co_inl_cap:
            data = _mem(_ptr(self.addr + L.co_image_ext), n - L.co_inl_cap) + _mem(inl, L.co_inl_cap)
        else:
            data = _mem(inl, n)
        return hi - n, data


class Task:
    def __init__(self, L, sched, addr):
        self.addr = addr
        self.sched = sched
        self.co = Co(L, _ptr(addr + L.task_co))
        self.resume = _ptr(addr + L.task_resume)
        self.state = _u(addr + L.task_state, 1)
        self.cancelled = _u(addr + L.task_cancelled, 1)
        self.flags = _u(addr + L.task_flags, 1)
        self.reason = _u(addr + L.task_reason, 1)
        self.obj = _ptr(addr + L.task_obj)
        self.since = _i64(addr + L.task_since)
        heap_idx = _ptr(addr + L.task_heap_idx)
        self.deadline = None
        if heap_idx:
            heap = _ptr(sched.addr + L.sched_heap)
            self.deadline = _i64(heap + heap_idx * L.timer_size + L.timer_when)


class Sched:
    def __init__(self, L, addr):
        self.addr = addr
        self.tid = _u(addr + L.sched_tid, 4)
        self.current = _ptr(addr + L.sched_current)
        self.tasks = []
        t = _ptr(addr + L.sched_all)
        while t:
            self.tasks.append(Task(L, self, t))
            t = _ptr(t + L.task_next_all)
        self.tasks.reverse()  # linked newest first; list oldest first


def _scheds(L):
    out = []
    s = _ptr(L.scheds_head)
    while s:
        out.append(Sched(L, s))
        s = _ptr(s + L.sched_dbg_next)
    return out


def _live():
    """Is this a running process (not a core file), whose clock we share?"""
    inf = gdb.selected_inferior()
    try:
        return inf.pid != 0 and inf.connection.type == "native"
    except AttributeError:
        return inf.pid != 0


def _thread_of(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


def _ms(ns):
    return "%d ms" % (ns // 1000000)


def _waits_on(L, t):
    if t.state != 2:
        return ""
    reason = L.reasons[t.reason] if t.reason < len(L.reasons) else "reason %d" % t.reason
    if reason.startswith("fd"):
        what = "%s %d" % (reason, t.obj)  # the fd is the object
    elif reason == "join" and t.obj:
        what = "join %s" % Co(L, t.obj).label()
    elif t.obj:
        what = "%s 0x%x" % (reason, t.obj)
    else:
        what = reason
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) if _live() else None
    if t.deadline is not None:
        if now is not None:
            what += ", deadline in %s" % _ms(max(0, t.deadline - now))
        else:
            what += ", deadline at %.3f s (monotonic)" % (t.deadline / 1e9)
    if now is not None:
        what += ", for %s" % _ms(max(0, now - t.since))
    return what


class InfoTasks(gdb.Command):
    """List every weft task, per thread: id, name, state and what it waits on.
Usage: info weft-tasks"""

    def __init__(self):
        super().__init__("info weft-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        try:
            L = Layout()
            scheds = _scheds(L)
        except (WeftError, gdb.MemoryError) as e:
            raise gdb.GdbError("weft: %s" % e)
        if not scheds:
            print("weft: no scheduler is running (no thread is inside weft_run)")
            return
        threads = {s.addr: _thread_of(s.tid) for s in scheds}
        scheds.sort(key=lambda s: threads[s.addr].num if threads[s.addr] else 1 << 30)
        for s in scheds:
            th = threads[s.addr]
            where = "thread %d (LWP %d)" % (th.num, s.tid) if th else "LWP %d" % s.tid
            live = [t for t in s.tasks if t.state != 3]
            print("%s, scheduler 0x%x: %d tasks" % (where, s.addr, len(live)))
            print("  %-6s %-16s %-8s %-8s %s" % ("id", "name", "stack", "state", "waits on"))
            for t in s.tasks:
                state = TASK_STATES[t.state] if t.state < len(TASK_STATES) else "?"
                if t.cancelled:
                    state += "*"
                kind = "shared" if t.co.shared else "private"
                note = _waits_on(L, t)
                if t.state == 1:
                    note = "(its frames are the thread's: bt in that thread)"
                print("  #%-5d %-16s %-8s %-8s %s" % (t.co.id, t.co.name or "-", kind, state, note))
        print("(* cancelled)  weft-bt ID shows a task's backtrace")


class _CtxUnwinder(Unwinder if Unwinder else object):
    """While `regs` is set, unwinds the newest frame into a saved context."""

    def __init__(self):
        super().__init__("weft-context")
        self.regs = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        arch = self.arch
        pc = pending.read_register(arch["pc"])
        info = pending.create_unwind_info(FrameId(gdb.Value(self.sp).cast(pc.type), pc))
        for name, value in self.regs.items():
            typ = pending.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(typ))
        return info


_unwinder = None


def _arch():
    name = gdb.selected_inferior().architecture().name() if hasattr(
        gdb.selected_inferior(), "architecture") else gdb.newest_frame().architecture().name()
    if name not in ARCHES:
        raise WeftError("no context layout for architecture %s" % name)
    return ARCHES[name]


def _context_regs(arch, sp, read):
    regs = {name: read(sp + off) for name, off in arch["regs"].items()}
    regs[arch["pc"]] = read(sp + arch["ret"])
    regs[arch["sp"]] = sp + arch["frame"]
    return regs


def _c_name(name):
    """gdb decodes a symbol without debug information as Ada would, and
    shows weft__park as weft.park: give back the C name."""
    if name and name.startswith("weft."):
        return "weft__" + name[5:]
    return name


def _print_frames(limit=64):
    f = gdb.newest_frame().older()
    n = 0
    while f is not None and n < limit:
        name = _c_name(f.name()) or "??"
        sal = f.find_sal()
        loc = ""
        if sal.symtab:
            loc = " at %s:%d" % (sal.symtab.filename, sal.line)
        else:
            lib = gdb.solib_name(f.pc())
            if lib:
                loc = " from %s" % lib
        print("#%-3d 0x%016x in %s ()%s" % (n, f.pc(), name, loc))
        last = f
        f = f.older()
        n += 1
    if f is None and n and last.unwind_stop_reason() not in (
            gdb.FRAME_UNWIND_NO_REASON, gdb.FRAME_UNWIND_OUTERMOST):
        print("(unwinding stopped: %s)" % gdb.frame_stop_reason_string(last.unwind_stop_reason()))


def _bt_in_place(co):
    if _unwinder is None:
        raise WeftError("this gdb has no Python unwinders")
    arch = _arch()
    _unwinder.arch = arch
    _unwinder.sp = co.sp
    _unwinder.regs = _context_regs(arch, co.sp, _ptr)
    gdb.invalidate_cached_frames()
    try:
        _print_frames()
    finally:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()


def _symbol_at(addr):
    try:
        out = gdb.execute("info symbol 0x%x" % addr, to_string=True).strip()
    except gdb.error:
        return None
    if out.startswith("No symbol") or " .text" not in out:
        return None
    return _c_name(out.split(" in section")[0])


def _bt_away(co):
    """A shared coroutine whose frames are saved in its image: gdb reads
    memory only where it is, so the image cannot be unwound in place. Shows
    the frame it is parked in (from the saved context) and the words of the
    image that point into code, which are its likely return addresses."""
    base, data = co.image()
    arch = _arch()
    off = co.sp - base
    if off < 0 or off + arch["frame"] > len(data):
        raise WeftError("the saved image of %s does not hold its context" % co.label())

    def read(a):
        return struct.unpack("<Q", data[a - base:a - base + 8])[0]

    owner = _ptr(co.on + co.L.shared_owner)
    print("%s runs on a shared stack now owned by %s; its %d bytes of frames are"
          % (co.label(), Co(co.L, owner).label() if owner else "nobody", len(data)))
    print("saved in its image, where gdb cannot unwind them in place. Parked in:")
    ret = read(co.sp + arch["ret"])
    sal = gdb.find_pc_line(ret - 1)
    loc = " at %s:%d" % (sal.symtab.filename, sal.line) if sal.symtab else ""
    print("#0   0x%016x in %s%s" % (ret, _symbol_at(ret - 1) or "??", loc))
    print("Code addresses found deeper in the image (likely callers, innermost first):")
    seen = 0
    for a in range(co.sp + arch["frame"], base + len(data) - 7, 8):
        v = read(a)
        sym = _symbol_at(v - 1) if v > 4096 else None
        if sym:
            print("     0x%016x in %s   (saved at 0x%x)" % (v, sym, a))
            seen += 1
    if not seen:
        print("     (none)")


class WeftBt(gdb.Command):
    """Backtrace of a suspended weft task or coroutine.
Usage: weft-bt ID     (a task's id, as info weft-tasks lists it)
       weft-bt NAME   (a task's name)
       weft-bt ADDR   (the address of a weft_co, e.g. a variable: weft-bt gen)
A task that drives a generator shows the generator's frames, then the
task's own."""

    def __init__(self):
        super().__init__("weft-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        arg = arg.strip().lstrip("#")
        if not arg:
            raise gdb.GdbError("usage: weft-bt ID | weft-bt ADDRESS")
        try:
            self._bt(arg)
        except (WeftError, gdb.MemoryError) as e:
            raise gdb.GdbError("weft: %s" % e)

    def _bt(self, arg):
        L = Layout()
        task = None
        chain = None
        tasks = [t for s in _scheds(L) for t in s.tasks]
        if arg.isdigit():
            task = next((t for t in tasks if t.co.id == int(arg)), None)
            if task is None:
                raise WeftError("no live task #%s (info weft-tasks lists them)" % arg)
        else:
            task = next((t for t in tasks if t.co.name == arg), None)
        if task is not None:
            if task.state == 1:
                th = _thread_of(task.sched.tid)
                raise WeftError("task %s is running: its frames are those of thread %s (bt there)"
                                % (task.co.label(), th.num if th else "LWP %d" % task.sched.tid))
            if task.state == 3:
                raise WeftError("task %s has finished" % task.co.label())
            # From the innermost coroutine it waits in, out to the task.
            chain = [Co(L, task.resume)]
            while chain[-1].addr != task.co.addr and chain[-1].resumer and len(chain) < 64:
                chain.append(Co(L, chain[-1].resumer))
        else:  # the address of a coroutine
            try:
                chain = [Co(L, int(gdb.parse_and_eval("(unsigned long)(%s)" % arg)))]
            except gdb.error as e:
                raise WeftError("no task is named %s, nor is it an address (%s)" % (arg, e))
        for i, co in enumerate(chain):
            if i:
                print("--- resumed by %s ---" % co.label())
            else:
                print("%s, %s stack:" % (co.label(), "shared" if co.shared else "private"))
            if co.state == 3:
                print("(not started yet: no frames)")
            elif co.state not in (1, 2) or not co.sp:
                print("(%s: no frames)" % (CO_STATES[co.state] if co.state < 5 else "?"))
            elif co.frames_in_place():
                _bt_in_place(co)
            else:
                _bt_away(co)


def _register():
    global _unwinder
    InfoTasks()
    WeftBt()
    if Unwinder is not None:
        _unwinder = _CtxUnwinder()
        register_unwinder(None, _unwinder, replace=True)


_register()
