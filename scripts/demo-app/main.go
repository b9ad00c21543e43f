// A tiny HTTP service for the quickstart's demo image. Built with Debian's Go 1.19, whose
// standard library the scanner finds (from the binary's build information) and matches against
// the Go vulnerability database entries carried in the demo snapshot.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello from airheal") })
		_ = http.ListenAndServe(":8080", nil)
		return
	}
	fmt.Println("hello from airheal")
}
