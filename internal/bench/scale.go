package bench

import (
	"context"
	"fmt"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/scale"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/testenv"
)

// ScaleFigures measures the reaper pass over users and the directory calls
// per run for the scale line, in this process (internal/scale) against a
// redis-server of its own. Its RSS is not one replica's (this process also
// generates the load), so it reports none: floatseat-bench runs
// `floatseat-bench scale` as a child process for that figure.
func ScaleFigures(tb testenv.TB, users int) (Scale, error) {
	r, err := scaleRun(tb, users)
	if err != nil {
		return Scale{}, err
	}
	return Scale{Users: users, ReaperPassMS: float64(r.ReaperPass.Milliseconds()), RSSMB: -1,
		DirectoryCalls: float64(r.DirCallsSteady)}, nil
}

func scaleRun(tb testenv.TB, users int) (scale.Result, error) {
	rd := testenv.StartRedis(tb)
	st, err := store.Open(config.Redis{Addr: rd.Addr, KeyPrefix: "floatseat:scale"}, store.Options{})
	if err != nil {
		return scale.Result{}, fmt.Errorf("scale: %w", err)
	}
	defer st.Close()
	return scale.Run(context.Background(), scale.Options{Users: users, Store: st})
}
