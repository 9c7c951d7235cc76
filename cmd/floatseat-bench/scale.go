package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/floatseat/floatseat/internal/bench"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/scale"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/testenv"
)

// scaleMain is `floatseat-bench scale [-users N]`: the 100k-user figures
// (internal/scale) measured in a process of their own, so that its peak
// RSS is one replica's and not the load generator's. It prints a table
// and, last, the `scale:` line.
func scaleMain(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	users := fs.Int("users", 100000, "licensed users on the estate")
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the run here")
	heap := fs.String("memprofile", "", "write a heap profile at the end of the run here")
	_ = fs.Parse(args)
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *heap != "" {
		defer func() {
			if f, err := os.Create(*heap); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	sc := testenv.NewScope()
	defer sc.Close()
	var r scale.Result
	var runErr error
	if err := sc.Run(func(tb testenv.TB) {
		rd := testenv.StartRedis(tb)
		st, err := store.Open(config.Redis{Addr: rd.Addr, KeyPrefix: "floatseat:scale"}, store.Options{})
		if err != nil {
			runErr = err
			return
		}
		defer st.Close()
		r, runErr = scale.Run(context.Background(), scale.Options{Users: *users, Store: st})
	}); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	fmt.Printf("\nscale: %d licensed users (directory: an instant stand-in paging 50 members a call)\n", r.Users)
	fmt.Printf("  reaper pass, steady (view fresh)             %6d ms  (target < 1000; %d ms of CPU here)\n",
		r.ReaperPass.Milliseconds(), r.ReaperPassCPU.Milliseconds())
	fmt.Printf("  reaper pass, 90%% revoked (reconcile incl.)   %6d ms\n", r.ReaperPassRevoked.Milliseconds())
	fmt.Printf("  directory calls per run, fresh / steady      %6d / %d\n", r.DirCallsFresh, r.DirCallsSteady)
	fmt.Printf("  peak RSS: %d sessions, activity, %d revoked  %6.0f MiB  (target < 150; live heap %.0f MiB)\n",
		r.Learned, r.Users*9/10, r.RSSMB, r.HeapMB)
	fmt.Printf("  Redis bytes per user                         %6.0f\n", r.RedisBytesPerUser)
	fmt.Println(r.Line())
	return nil
}

// scaleChild runs `floatseat-bench scale` as a child process, prints its
// table and returns the figures of its `scale:` line.
func scaleChild(tb testenv.TB, users int) (bench.Scale, error) {
	self, err := os.Executable()
	if err != nil {
		return bench.Scale{}, err
	}
	var out bytes.Buffer
	cmd := exec.Command(self, "scale", "-users", strconv.Itoa(users))
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return bench.Scale{}, fmt.Errorf("floatseat-bench scale: %w", err)
	}
	text := strings.TrimRight(out.String(), "\n")
	i := strings.LastIndex(text, "\n")
	fmt.Println(text[:i+1])
	s := bench.Scale{Users: users, ReaperPassMS: -1, RSSMB: -1, DirectoryCalls: -1}
	for _, f := range strings.Fields(text[i+1:]) {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch k {
		case "reaper_pass_ms":
			s.ReaperPassMS = n
		case "rss_mb":
			s.RSSMB = n
		case "directory_calls_per_run":
			s.DirectoryCalls = n
		}
	}
	return s, nil
}
