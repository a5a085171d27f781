# Front door: CMake does the work underneath.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
QUICK ?= 0

.PHONY: all configure test bench install clean format

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

test: all
	tests/run.sh $(BUILD)

# QUICK=1: under 2 minutes instead of about 10 (bench/run.sh).
bench: all
	QUICK=$(QUICK) bench/run.sh $(BUILD)

install: configure
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc' '*.cpp')

clean:
	rm -rf $(BUILD)
