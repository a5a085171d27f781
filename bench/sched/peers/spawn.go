// Peer: go f() with a sync.WaitGroup, ns per goroutine, in batches of 100
// (as bench/sched/spawn.c joins its tasks).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	total := 1000000
	if len(os.Args) > 1 {
		total, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	for done := 0; done < total; done += 100 {
		wg.Add(100)
		for i := 0; i < 100; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	fmt.Printf("%.1f\n", float64(time.Since(t0).Nanoseconds())/float64(total))
}
