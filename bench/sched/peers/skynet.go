// Peer: skynet in Go, the program bench/sched/skynet.c runs: a tree of
// goroutines, 10 children per node down to LEAVES leaves, each node summing
// its children's numbers from a channel. Prints ms, whether the sum is
// right and the peak RSS, as key=value pairs.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func skynet(up chan int, num, size int) {
	if size == 1 {
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
	leaves := 1000000
	if len(os.Args) > 1 {
		leaves, _ = strconv.Atoi(os.Args[1])
	}
	top := make(chan int, 1)
	t0 := time.Now()
	go skynet(top, 0, leaves)
	sum := <-top
	ms := float64(time.Since(t0).Microseconds()) / 1000
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	ok := 0
	if sum == leaves*(leaves-1)/2 {
		ok = 1
	}
	fmt.Printf("kind=go leaves=%d ms=%.1f sum_ok=%d peak_rss_mb=%.1f\n", leaves, ms, ok, float64(ru.Maxrss)/1024)
}
