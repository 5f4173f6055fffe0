package mcpstore

import (
	"fmt"
	"testing"
	"time"
)

// openWith opens a store with the demo server over `tr` and these performance settings.
func openWith(t *testing.T, tr transport, performance string) *Store {
	t.Helper()
	s, err := Open(fmt.Sprintf(`{"mcpServers": {"demo": %s}, "performance": %s}`, tr.service, performance))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestCallOptions(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) { callOptions(t, tr) })
	}
}

func callOptions(t *testing.T, tr transport) {
	// One session: the counter below is one process's counter.
	s := openWith(t, tr, `{"min_connections": 1, "max_connections": 1}`)
	start := time.Now()
	_, err := s.CallToolWith("sleep", map[string]any{"ms": 5000}, &CallOptions{Timeout: 300 * time.Millisecond})
	asError(t, err, StatusTimeout)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the call's own limit did not hold: %v", time.Since(start))
	}
	keyed := &CallOptions{CacheKey: "go-counter"}
	first, err := s.CallToolWith("counter", nil, keyed)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CallToolWith("counter", nil, keyed)
	if err != nil {
		t.Fatal(err)
	}
	if first.FromCache || !second.FromCache || second.CacheAgeMs < 0 || first.Text != second.Text {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	plain, err := s.CallTool("counter", nil)
	if err != nil || plain.FromCache || plain.CacheAgeMs != -1 {
		t.Fatalf("nothing is cached without a key: %+v %v", plain, err)
	}
}

func TestCancelTokenStopsEveryCall(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) { cancelTokenStopsEveryCall(t, tr) })
	}
}

func cancelTokenStopsEveryCall(t *testing.T, tr transport) {
	s := openWith(t, tr, `{"min_connections": 1}`)
	token, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	defer token.Close()
	opts := &CallOptions{Cancel: token}
	ch, err := s.SubmitWith("sleep", map[string]any{"ms": 10000}, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.CallToolWith("sleep", map[string]any{"ms": 10000}, opts)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	token.Cancel()
	if !token.Cancelled() {
		t.Fatal("the token does not say it was cancelled")
	}
	for _, err := range []error{(<-ch).Err, <-done} {
		asError(t, err, StatusCancelled)
	}
}
