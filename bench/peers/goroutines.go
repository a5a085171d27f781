// Peer of bench/shared.c's "mem" mode: COUNT goroutines, each blocked on a
// channel after touching LIVE bytes (0 or 200) of its stack; prints
// (peak RSS - baseline) / COUNT in the same format.
//
//	goroutines COUNT LIVE
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var sink byte

// touch writes the array through a call the compiler does not inline, so
// that the array is really on the goroutine's stack and really touched.
//
//go:noinline
func touch(buf []byte, v byte) {
	for i := 0; i < len(buf); i += 8 {
		buf[i] = v + byte(i)
	}
	buf[len(buf)-1] = v
}

func withLive(v byte, ready *sync.WaitGroup, block chan struct{}) {
	var buf [200]byte
	touch(buf[:], v)
	ready.Done()
	<-block
	sink += buf[199] // live across the wait
}

func empty(ready *sync.WaitGroup, block chan struct{}) {
	ready.Done()
	<-block
}

// statusBytes returns a field of /proc/self/status (VmRSS, VmHWM) in bytes.
func statusBytes(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, key+":") {
			fields := strings.Fields(line[len(key)+1:])
			if len(fields) > 0 {
				kib, _ := strconv.ParseInt(fields[0], 10, 64)
				return kib * 1024
			}
		}
	}
	return 0
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goroutines COUNT LIVE")
		os.Exit(2)
	}
	count, err1 := strconv.Atoi(os.Args[1])
	live, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil || count <= 0 || (live != 0 && live != 200) {
		fmt.Fprintln(os.Stderr, "goroutines: COUNT > 0, LIVE 0 or 200")
		os.Exit(2)
	}
	runtime.GC()
	base := statusBytes("VmRSS")
	block := make(chan struct{})
	var ready sync.WaitGroup
	ready.Add(count)
	t0 := time.Now()
	for i := 0; i < count; i++ {
		if live == 200 {
			go withLive(byte(i), &ready, block)
		} else {
			go empty(&ready, block)
		}
	}
	ready.Wait()
	secs := time.Since(t0).Seconds()
	peak := statusBytes("VmHWM")
	fmt.Printf("bytes_per_co=%.0f count=%d rss_mib=%.0f seconds=%.2f\n",
		float64(peak-base)/float64(count), count, float64(peak-base)/(1<<20), secs)
	close(block)
}
