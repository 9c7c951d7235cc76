// Package deps pins the project's chosen dependencies in go.mod while the
// packages that use them are being written side by side. It is deleted once
// every dependency has a real importer.
package deps

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/go-ldap/ldap/v3"
	_ "github.com/gorilla/mux"
	_ "github.com/hashicorp/golang-lru/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promauto"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/client_model/go"
	_ "github.com/redis/go-redis/v9"
	_ "gopkg.in/yaml.v3"
)
