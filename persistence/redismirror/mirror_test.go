package redismirror_test

import (
	"context"
	"strings"
	"testing"

	"github.com/revocd/revocd/persistence/redismirror"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		addr    string
		wantErr string
	}{
		{url: "redis://127.0.0.1:6390/2", addr: "127.0.0.1:6390"},
		{url: "", wantErr: "REDIS_URL is empty"},
		{url: "http://user:s3cret@host:1/0", wantErr: "REDIS_URL"},
		{url: "redis://user:s3cret@host:notaport/0", wantErr: "REDIS_URL"},
	}
	for _, tc := range tests {
		opt, err := redismirror.ParseURL(tc.url)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ParseURL(%q) err = %v; want %q, no password", tc.url, err, tc.wantErr)
			}
			continue
		}
		if err != nil || opt.Addr != tc.addr {
			t.Errorf("ParseURL(%q) = %+v, %v", tc.url, opt, err)
		}
	}
}

func TestPing(t *testing.T) {
	f := newFixture(t)
	if err := f.m.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
