// Peer: ping-pong over two unbuffered channels between two goroutines, ns
// per one-way message. Run with GOMAXPROCS=1.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	rounds := 1000000
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < rounds; i++ {
			v := <-ping
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	fmt.Printf("%.1f\n", float64(time.Since(t0).Nanoseconds())/float64(2*rounds))
}
