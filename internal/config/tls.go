package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ClientConfig builds the client TLS configuration t describes, or nil
// when TLS is off. Every problem with the files is an error naming its key
// under prefix ("redis.tls.ca_file: …"), all of them joined: check reports
// them and store.Open refuses them, from this one function.
func (t TLS) ClientConfig(prefix string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // admin's explicit choice
	var errs []error
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.ca_file: %w", prefix, err))
		default:
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("%s.ca_file: no certificate found in %s", prefix, t.CAFile))
			}
		}
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "" || t.KeyFile == "":
		errs = append(errs, fmt.Errorf("%s: cert_file and key_file go together (the client certificate and its key); set both or neither", prefix))
	default:
		kp, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.cert_file/key_file: %w", prefix, err))
		} else {
			tc.Certificates = []tls.Certificate{kp}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tc, nil
}

// validateTLS reports every problem of a tls: section, and warns about a
// client key readable by everyone and about files given with TLS off.
func validateTLS(v *validator, prefix string, t TLS) {
	if !t.Enabled {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
			v.warn("%s: files are set but %s.enabled is false: the connection is not encrypted", prefix, prefix)
		}
		return
	}
	if _, err := t.ClientConfig(prefix); err != nil {
		var j interface{ Unwrap() []error }
		if errors.As(err, &j) {
			v.errs = append(v.errs, j.Unwrap()...)
		} else {
			v.errs = append(v.errs, err)
		}
	}
	if t.KeyFile != "" {
		if st, err := os.Stat(t.KeyFile); err == nil && st.Mode().Perm()&0o004 != 0 {
			v.warn("%s.key_file: %s is readable by every user on this machine; chmod 600 it", prefix, t.KeyFile)
		}
	}
	if t.InsecureSkipVerify {
		v.warn("%s.insecure_skip_verify: the server's certificate is not verified; anyone on the path can read and change what floatseat stores", prefix)
	}
}
