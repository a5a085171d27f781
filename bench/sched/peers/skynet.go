// Peer: skynet in Go, the program bench/sched/skynet.c runs: a tree of
// goroutines, 10 children per node down to LEAVES leaves, each node summing
// its children's numbers from a channel. Prints ms, whether the sum is
// right and the peak RSS, as key=value pairs. With "alive" as the second
// argument every leaf waits until all the leaves exist, so that all 1.1M
// goroutines are alive at once.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	alive   bool
	leaves  int64
	arrived int64
	gate    = make(chan struct{})
)

func skynet(up chan int, num, size int) {
	if size == 1 {
		if alive {
			if atomic.AddInt64(&arrived, 1) == leaves {
				close(gate)
			}
			<-gate
		}
		up <- num
		return
	}
	c := make(chan int)
	part := size / 10
	for i := 0; i < 10; i++ {
		go skynet(c, num+i*part, part)
	}
	total := 0
	for i := 0; i < 10; i++ {
		total += <-c
	}
	up <- total
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	leaves = int64(n)
	alive = len(os.Args) > 2 && os.Args[2] == "alive"
	kind := "go"
	if alive {
		kind = "go-alive"
	}
	top := make(chan int, 1)
	t0 := time.Now()
	go skynet(top, 0, n)
	sum := <-top
	ms := float64(time.Since(t0).Microseconds()) / 1000
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	ok := 0
	if sum == n*(n-1)/2 {
		ok = 1
	}
	fmt.Printf("kind=%s leaves=%d ms=%.1f sum_ok=%d peak_rss_mb=%.1f\n", kind, n, ms, ok, float64(ru.Maxrss)/1024)
}
