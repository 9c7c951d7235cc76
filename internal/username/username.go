// Package username is the one place that says when two user (or group)
// names are the same: Jira, Confluence, Crowd and LDAP compare them
// case-insensitively, so floatseat keys every record (activity, seats,
// revocations, memberships, exclusions) by the lower-cased name. It
// imports nothing, so every room may use it, the pure policy included.
package username

import "strings"

// Normalize returns the key of a user or group name: the name in lower
// case. It does not allocate for names already in lower case.
func Normalize(name string) string {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(name)
		}
	}
	return name
}
