package keeper

import "github.com/floatseat/floatseat/proxy"

var proxyVerdictZero = proxy.Verdict{}
