package config

import (
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// explicitZeros walks the YAML document beside the struct it was decoded
// into and returns the numeric fields (integers and durations) the document
// sets to 0. ApplyDefaults fills every zero; Parse then puts these back, so
// `reserve: 0` means 0, and validation refuses a 0 that makes no sense
// instead of a default quietly replacing it.
func explicitZeros(n *yaml.Node, v reflect.Value, out []reflect.Value) []reflect.Value {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = explicitZeros(c, v, out)
		}
	case yaml.MappingNode:
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return out
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return out
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			f, ok := fieldByTag(v, n.Content[i].Value)
			if !ok {
				continue
			}
			if isInt(f.Kind()) && f.Int() == 0 && f.CanSet() {
				out = append(out, f)
			}
			out = explicitZeros(n.Content[i+1], f, out)
		}
	case yaml.SequenceNode:
		if v.Kind() != reflect.Slice {
			return out
		}
		for i, c := range n.Content {
			if i < v.Len() {
				out = explicitZeros(c, v.Index(i), out)
			}
		}
	}
	return out
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true // time.Duration is an int64
	}
	return false
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// setKeys records every key path the document sets ("pools[0].reserve").
func setKeys(n *yaml.Node, key string, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			setKeys(c, key, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if key != "" {
				k = key + "." + k
			}
			out[k] = true
			setKeys(n.Content[i+1], k, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := key + "[" + strconv.Itoa(i) + "]"
			out[k] = true
			setKeys(c, k, out)
		}
	}
}
