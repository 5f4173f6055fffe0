package mcpstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// oauthWorld is ffi-tests/oauth_server.py: an authorization server and, as
// the protected resource, the demo server behind --require-header (it
// accepts only the bearer token that authorization server issues).
type oauthWorld struct {
	resource, issuer string
}

func startOAuthWorld(t *testing.T) *oauthWorld {
	t.Helper()
	python := os.Getenv("MCPS_PYTHON")
	if python == "" {
		python = "python3"
	}
	script, _ := filepath.Abs("../oauth_server.py")
	cmd := exec.Command(python, script, "--demo", demoServer)
	stdin, err := cmd.StdinPipe() // closing it stops the world
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s %s: %v", python, script, err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan *oauthWorld, 1)
	go func() {
		re := regexp.MustCompile(`^oauth: resource (\S+) issuer (\S+)$`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- &oauthWorld{resource: m[1], issuer: m[2]}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case w := <-found:
		return w
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not print its URLs within 20 s", script)
		return nil
	}
}

// stat is a number of what the authorization server saw (/_stats).
func (w *oauthWorld) stat(t *testing.T, key string) int {
	t.Helper()
	resp, err := http.Get(w.issuer + "/_stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Registrations  int            `json:"registrations"`
		Authorizations int            `json:"authorizations"`
		Grants         map[string]int `json:"grants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	switch key {
	case "registrations":
		return stats.Registrations
	case "authorizations":
		return stats.Authorizations
	default:
		return stats.Grants[key]
	}
}

// browser is an Authorizer playing a user agent whose user consented:
// it follows the authorization URL to its redirect, counting its calls.
type browser struct {
	calls atomic.Int32
	mu    sync.Mutex
	last  AuthorizationRequest
}

func (b *browser) authorize(req AuthorizationRequest) (string, error) {
	b.calls.Add(1)
	b.mu.Lock()
	b.last = req
	b.mu.Unlock()
	client := &http.Client{
		Timeout:       req.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(req.URL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("the authorization endpoint answered %s", resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

func (b *browser) request() AuthorizationRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func authConfig(w *oauthWorld) string {
	return fmt.Sprintf(`{"mcpServers": {
		"web": {"url": %q, "auth": {"type": "oauth", "scopes": ["mcp:tools"], "client_name": "mcpstore Go test"}},
		"local": {"command": %q}},
		"performance": {"call_timeout": 15, "connection_timeout": 10}}`, w.resource, demoServer)
}

func echoWeb(s *Store, message string) (string, error) {
	r, err := s.CallTool("web.echo", map[string]any{"message": message})
	if err != nil {
		return "", err
	}
	return r.Text, nil
}

func mustEcho(t *testing.T, s *Store, message string) {
	t.Helper()
	got, err := echoWeb(s, message)
	if err != nil {
		t.Fatalf("web.echo: %v", err)
	}
	if got != message {
		t.Fatalf("web.echo gave %q, want %q", got, message)
	}
}

func TestAuthLoginCallStatusLogout(t *testing.T) {
	w := startOAuthWorld(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home) // the default token store, read when the store is built
	s, err := Open(authConfig(w))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	st, err := s.AuthStatus("web")
	if err != nil || st.Mode != "oauth" || st.Authorized || st.Issuer != "" {
		t.Fatalf("before login: %+v, %v", st, err)
	}
	// No authorizer, no login: a clear error.
	_, err = echoWeb(s, "x")
	if e := asError(t, err, StatusAuth); !strings.Contains(e.Message, "mcps_store_auth_login") {
		t.Fatalf("message %q", e.Message)
	}

	b := &browser{}
	if err := s.SetAuthorizer(b.authorize); err != nil {
		t.Fatal(err)
	}
	st, err = s.AuthLogin("web", 20*time.Second)
	if err != nil {
		t.Fatalf("AuthLogin: %v", err)
	}
	if !st.Authorized || !st.Renewable || st.Mode != "oauth" || st.Service != "web" {
		t.Fatalf("after login: %+v", st)
	}
	if st.Issuer != w.issuer || st.Resource != w.resource || st.ClientID == "" {
		t.Fatalf("issuer/resource/client: %+v (world %+v)", st, w)
	}
	if !contains(st.Scopes, "mcp:tools") || st.ExpiresAt.Before(time.Now()) {
		t.Fatalf("scopes/expiry: %+v", st)
	}
	req := b.request()
	if b.calls.Load() != 1 || req.Service != "web" || !strings.HasPrefix(req.URL, w.issuer+"/authorize?") ||
		req.RedirectURI != "http://127.0.0.1:0/callback" || req.Timeout <= 0 || req.Timeout > 20*time.Second {
		t.Fatalf("the authorizer saw %+v (%d calls)", req, b.calls.Load())
	}
	if w.stat(t, "registrations") != 1 || w.stat(t, "authorization_code") != 1 {
		t.Fatalf("registrations %d, code grants %d", w.stat(t, "registrations"), w.stat(t, "authorization_code"))
	}

	mustEcho(t, s, "hello from Go through OAuth")
	if info, err := os.Stat(filepath.Join(home, "mcpstore", "credentials.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", info, err)
	}

	// Logout: forgotten; many calls at once then authorize once, through the authorizer.
	if err := s.AuthLogout("web"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.AuthStatus("web"); st == nil || st.Authorized {
		t.Fatalf("after logout: %+v", st)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := fmt.Sprintf("c%d", i)
			if got, err := echoWeb(s, msg); err != nil || got != msg {
				errs <- fmt.Errorf("call %d: %q %v", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("the authorizer ran %d times, want 2 (one authorization for all the refused calls)", n)
	}

	// Without an authorizer, a logged-out service refuses calls.
	if err := s.SetAuthorizer(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AuthLogout("web"); err != nil {
		t.Fatal(err)
	}
	_, err = echoWeb(s, "x")
	asError(t, err, StatusAuth)

	// The headless authorizer needs no callback.
	if err := s.UseHeadlessAuthorizer(); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, s, "headless")
	if b.calls.Load() != 2 {
		t.Fatalf("the Go authorizer ran after it was replaced")
	}

	// A second store finds the stored credential: no new authorization.
	before := w.stat(t, "authorizations")
	s2, err := Open(authConfig(w))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, err := s2.AuthStatus("web"); err != nil || !st.Authorized {
		t.Fatalf("a new store: %+v %v", st, err)
	}
	mustEcho(t, s2, "stored")
	if after := w.stat(t, "authorizations"); after != before {
		t.Fatalf("authorizations %d -> %d", before, after)
	}
}

func TestAuthorizerFailures(t *testing.T) {
	w := startOAuthWorld(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	s, err := Open(authConfig(w))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cases := []struct {
		name  string
		a     Authorizer
		words string
	}{
		{"refused", func(AuthorizationRequest) (string, error) { return "", errors.New("the user said no") }, "the user said no"},
		{"panics", func(AuthorizationRequest) (string, error) { panic("boom") }, "panicked: boom"},
		{"NUL", func(AuthorizationRequest) (string, error) { return "http://x\x00y", nil }, "NUL"},
		{"wrong redirect", func(AuthorizationRequest) (string, error) { return "http://127.0.0.1:9/elsewhere?code=x", nil }, "redirect URI"},
		{"wrong state", func(req AuthorizationRequest) (string, error) {
			loc, err := (&browser{}).authorize(req)
			return regexp.MustCompile(`state=[^&]*`).ReplaceAllString(loc, "state=forged"), err
		}, "state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.SetAuthorizer(c.a); err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			st, err := s.AuthLogin("web", 10*time.Second)
			if e := asError(t, err, StatusAuth); !strings.Contains(e.Message, c.words) {
				t.Fatalf("message %q lacks %q", e.Message, c.words)
			}
			if st != nil || time.Since(started) > 10*time.Second {
				t.Fatalf("status %+v after %v", st, time.Since(started))
			}
		})
	}
	// A slow authorizer: the login's timeout holds.
	release := make(chan struct{})
	if err := s.SetAuthorizer(func(AuthorizationRequest) (string, error) {
		<-release
		return "", errors.New("too late")
	}); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(2 * time.Second); close(release) }()
	started := time.Now()
	_, err = s.AuthLogin("web", 500*time.Millisecond)
	if e := asError(t, err, StatusAuth); !strings.Contains(e.Message, "deadline") {
		t.Fatalf("message %q", e.Message)
	}
	if time.Since(started) > 500*time.Millisecond+loadMargin {
		t.Fatalf("took %v", time.Since(started))
	}
	// Still works afterwards.
	b := &browser{}
	if err := s.SetAuthorizer(b.authorize); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthLogin("web", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, s, "after failures")
}

func TestAuthBadInput(t *testing.T) {
	w := startOAuthWorld(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, err := Open(fmt.Sprintf(`{"mcpServers": {"web": {"url": %q, "auth": {"type": "oauth", "scopes": 3}}}}`, w.resource))
	if e := asError(t, err, StatusConfig); !strings.Contains(e.Message, "auth.scopes") || !strings.Contains(e.Message, "web") {
		t.Fatalf("message %q", e.Message)
	}
	s, err := Open(authConfig(w))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddService("added", map[string]any{"url": w.resource, "auth": map[string]any{"type": "oauth", "client_id": "pre"}}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.AuthStatus("added"); err != nil || st.Mode != "oauth" || st.Authorized {
		t.Fatalf("added: %+v %v", st, err)
	}
	err = s.AddService("bad", map[string]any{"url": w.resource, "auth": map[string]any{"type": "client_credentials", "client_id": "svc", "client_secret_env": "MCPS_GO_TEST_UNSET_SECRET"}})
	if e := asError(t, err, StatusConfig); !strings.Contains(e.Message, "client_secret_env") {
		t.Fatalf("message %q", e.Message)
	}

	_, err = s.AuthStatus("nope")
	asError(t, err, StatusServiceNotFound)
	_, err = s.AuthLogin("nope", time.Second)
	asError(t, err, StatusServiceNotFound)
	asError(t, s.AuthLogout("nope"), StatusServiceNotFound)
	_, err = s.AuthStatus("")
	asError(t, err, StatusServiceNotFound)
	_, err = s.AuthStatus("we\x00b")
	asError(t, err, StatusInvalidArgument)

	// A service without OAuth.
	st, err := s.AuthStatus("local")
	if err != nil || st.Mode != "none" || st.Authorized || len(st.Scopes) != 0 {
		t.Fatalf("local: %+v %v", st, err)
	}
	_, err = s.AuthLogin("local", time.Second)
	asError(t, err, StatusConfig)
	if err := s.AuthLogout("local"); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthStatus("web"); err != ErrClosed {
		t.Fatalf("closed: %v", err)
	}
	if err := s.SetAuthorizer((&browser{}).authorize); err != ErrClosed {
		t.Fatalf("closed: %v", err)
	}
}

// loadMargin is what a clock bound may add to the limit it checks on a loaded 2-core machine.
const loadMargin = 1500 * time.Millisecond

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
