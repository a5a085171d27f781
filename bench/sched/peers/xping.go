// Peer: ping-pong over two unbuffered channels between two goroutines, ns
// per one-way message, the peer of bench/sched/xping.c. Run with
// GOMAXPROCS=2. Go places goroutines itself: a goroutine woken by a
// channel operation usually runs next on the waker's P, so the two may
// share one thread. With "locked" as the second argument each goroutine
// is locked to its own OS thread (runtime.LockOSThread), so that every
// message crosses threads, as xping's cross mode does.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const warmup = 1000

func main() {
	rounds := 1000000
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	locked := len(os.Args) > 2 && os.Args[2] == "locked"
	if locked {
		runtime.LockOSThread()
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		if locked {
			runtime.LockOSThread()
		}
		for i := 0; i < warmup+rounds; i++ {
			v := <-ping
			pong <- v
		}
	}()
	var t0 time.Time
	for i := 0; i < warmup+rounds; i++ {
		if i == warmup {
			t0 = time.Now()
		}
		ping <- i
		<-pong
	}
	fmt.Printf("%.1f\n", float64(time.Since(t0).Nanoseconds())/float64(2*rounds))
}
