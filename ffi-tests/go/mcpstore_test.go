package mcpstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// demoServer is the demo MCP server binary: $MCPS_DEMO_SERVER, else the one
// cargo built next to the static library. A missing server fails the tests.
var demoServer string

// httpURL is the URL of a demo server started over HTTP for the whole run.
var httpURL string

func TestMain(m *testing.M) {
	// The paths of the test dependencies (features_test.go, mrtr_test.go),
	// read before the MCPSTORE_* variables go.
	rmcpServer = dependency("MCPSTORE_RMCP_SERVER", "rmcp-target/release/rmcp-interop-server")
	everythingNode = dependency("MCPSTORE_NODE", "npm/node_modules/node/bin/node")
	everythingJS = dependency("MCPSTORE_EVERYTHING_JS", "npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
	// The developer's MCPSTORE_* settings would change every store these tests
	// open (mcps_store_new applies them) and reach the servers they start:
	// none of them is in force here. Nothing else runs yet, so this is safe.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "MCPSTORE_") {
			_ = os.Unsetenv(name)
		}
	}
	demoServer = os.Getenv("MCPS_DEMO_SERVER")
	if demoServer == "" {
		demoServer, _ = filepath.Abs("../../target/debug/mcpstore-demo-server")
	}
	if _, err := os.Stat(demoServer); err != nil {
		fmt.Fprintf(os.Stderr, "FATAL: demo server not found (%v); run `cargo build` first\n", err)
		os.Exit(2)
	}
	cmd, url, err := startHTTP()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FATAL: cannot start the demo HTTP server: %v\n", err)
		os.Exit(2)
	}
	httpURL = url
	code := m.Run()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	os.Exit(code)
}

// startHTTP starts `mcpstore-demo-server --http 127.0.0.1:0` and reads its URL from stderr.
func startHTTP() (*exec.Cmd, string, error) {
	cmd := exec.Command(demoServer, "--http", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+/mcp)`)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() { // keeps draining stderr after the URL
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	select {
	case url := <-found:
		return cmd, url, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", errors.New("no 'listening on' line within 10 s")
	}
}

type transport struct {
	name    string
	service string
}

func transports() []transport {
	return []transport{
		{"stdio", fmt.Sprintf(`{"command": %q}`, demoServer)},
		{"http", fmt.Sprintf(`{"url": %q}`, httpURL)},
	}
}

func openDemo(t *testing.T, tr transport) *Store {
	t.Helper()
	s, err := Open(fmt.Sprintf(`{"mcpServers": {"demo": %s}, "performance": {"min_connections": 1, "max_concurrent_calls": 64}}`, tr.service))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func asError(t *testing.T, err error, want Status) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *Error with status %v, got %v", want, err)
	}
	if e.Status != want {
		t.Fatalf("want status %v, got %v: %s", want, e.Status, e.Message)
	}
	return e
}

func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(Version()) {
		t.Fatalf("version %q", Version())
	}
}

func TestCallTool(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			s := openDemo(t, tr)
			r, err := s.CallTool("echo", map[string]any{"message": "hi from Go"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != "hi from Go" || r.IsError || !strings.Contains(r.JSON, `"content"`) {
				t.Fatalf("unexpected result %+v", r)
			}

			r, err = s.CallTool("demo.add", `{"a": 2, "b": 3}`)
			if err != nil {
				t.Fatal(err)
			}
			var sum struct {
				StructuredContent struct{ Sum float64 } `json:"structuredContent"`
			}
			if err := r.Decode(&sum); err != nil || sum.StructuredContent.Sum != 5 {
				t.Fatalf("add: %v %+v", err, sum)
			}

			r, err = s.CallTool("fail", map[string]string{"message": "nope"})
			if err != nil || !r.IsError || r.Text != "nope" {
				t.Fatalf("fail: %v %+v", err, r)
			}

			_, err = s.CallTool("echo", nil)
			if e := asError(t, err, StatusRPC); e.RPCCode != -32602 {
				t.Fatalf("rpc code %d", e.RPCCode)
			}
			_, err = s.CallTool("nope", nil)
			asError(t, err, StatusToolNotFound)
			_, err = s.CallTool("echo", "[1]")
			asError(t, err, StatusInvalidArgument)
			_, err = s.CallTool("echo", "{bad json")
			asError(t, err, StatusInvalidArgument)
			_, err = s.CallTool("ec\xffho", nil)
			asError(t, err, StatusInvalidArgument)
			_, err = s.CallTool("echo\x00", nil)
			asError(t, err, StatusInvalidArgument)
			_, err = s.CallTool("echo", map[string]any{"bad": make(chan int)})
			asError(t, err, StatusInvalidArgument)
		})
	}
}

func TestServicesAndStats(t *testing.T) {
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddService("demo", map[string]any{"command": demoServer}); err != nil {
		t.Fatal(err)
	}
	asError(t, s.AddService("demo", map[string]any{"command": demoServer}), StatusConfig)
	tools, err := s.ListTools("demo")
	if err != nil || len(tools) == 0 || tools[0]["service"] != "demo" {
		t.Fatalf("tools: %v %v", err, tools)
	}
	_, err = s.ListTools("nope")
	asError(t, err, StatusServiceNotFound)
	services, err := s.ListServices()
	if err != nil || len(services) != 1 || services[0]["name"] != "demo" {
		t.Fatalf("services: %v %v", err, services)
	}
	if _, err := s.CallTool("add", map[string]int{"a": 1, "b": 1}); err != nil {
		t.Fatal(err)
	}
	stats, err := s.Stats()
	if err != nil || !strings.Contains(string(stats), `"c_results"`) {
		t.Fatalf("stats: %v %s", err, stats)
	}
	if err := s.ClearCache(); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveService("demo"); err != nil {
		t.Fatal(err)
	}
	asError(t, s.RemoveService("demo"), StatusServiceNotFound)
	_, err = Open(`{"mcpServers": {"x": {}}}`)
	asError(t, err, StatusConfig)
	_, err = OpenFile(filepath.Join(t.TempDir(), "missing.json"))
	asError(t, err, StatusConfig)
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcp.json")
	config := fmt.Sprintf(`{"mcpServers": {"demo": {"command": %q}}}`, demoServer)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.CallTool("echo", map[string]string{"message": "file"}); err != nil || r.Text != "file" {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestBatchCall(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			s := openDemo(t, tr)
			out, err := s.BatchCall([]Call{
				{Tool: "echo", Arguments: map[string]string{"message": "a"}},
				{Tool: "add", Arguments: map[string]int{"a": 1, "b": 2}},
				{Tool: "nope"},
				{Tool: "echo", Arguments: map[string]string{}},
				{Tool: "echo", Arguments: map[string]string{"message": "k"}, CacheKey: "key"},
				{Tool: "fail", Arguments: map[string]string{"message": "f"}},
			})
			if err != nil || len(out) != 6 {
				t.Fatalf("%v %d", err, len(out))
			}
			if out[0].Err != nil || out[0].Result.Text != "a" {
				t.Fatalf("0: %+v", out[0])
			}
			if out[1].Err != nil || !strings.Contains(out[1].Result.JSON, `"sum":3`) {
				t.Fatalf("1: %+v", out[1])
			}
			asError(t, out[2].Err, StatusToolNotFound)
			if e := asError(t, out[3].Err, StatusRPC); e.RPCCode != -32602 {
				t.Fatalf("3: %+v", e)
			}
			if out[4].Err != nil || out[4].Result.Text != "k" {
				t.Fatalf("4: %+v", out[4])
			}
			if out[5].Err != nil || !out[5].Result.IsError {
				t.Fatalf("5: %+v", out[5])
			}
			empty, err := s.BatchCall(nil)
			if err != nil || len(empty) != 0 {
				t.Fatalf("empty: %v %v", err, empty)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			s := openDemo(t, tr)
			var chans []<-chan Outcome
			for i := 0; i < 20; i++ {
				ch, err := s.Submit("echo", map[string]string{"message": fmt.Sprint("bg", i)})
				if err != nil {
					t.Fatal(err)
				}
				chans = append(chans, ch)
			}
			for i, ch := range chans {
				select {
				case o := <-ch:
					if o.Err != nil || o.Result.Text != fmt.Sprint("bg", i) {
						t.Fatalf("%d: %+v", i, o)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%d: no outcome", i)
				}
			}
			ch, err := s.Submit("echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			asError(t, (<-ch).Err, StatusRPC)
			_, err = s.Submit("echo", "{")
			asError(t, err, StatusInvalidArgument)
		})
	}
}

// eventually polls cond every 10 ms until it holds, failing the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverCounter reads one of the demo server's own counters (its stats tool) through s.
func serverCounter(t *testing.T, s *Store, key string) float64 {
	t.Helper()
	r, err := s.CallTool("stats", nil)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var st struct {
		StructuredContent map[string]any `json:"structuredContent"`
	}
	if err := r.Decode(&st); err != nil {
		t.Fatalf("stats: %v in %s", err, r.JSON)
	}
	n, ok := st.StructuredContent[key].(float64)
	if !ok {
		t.Fatalf("stats has no number %q: %s", key, r.JSON)
	}
	return n
}

// poolInFlight is the number of calls in flight on the store's sessions to service.
func poolInFlight(t *testing.T, s *Store, service string) int {
	t.Helper()
	raw, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pool map[string]struct {
			InFlight int `json:"in_flight"`
		} `json:"pool"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Pool[service].InFlight
}

// Closing the store completes pending calls with StatusClosed (docs/c-api.md)
// and tells the server to stop them: over HTTP, a second store on the same
// server sees the cancellation in the server's counters.
func TestCloseWithPendingSubmissions(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			s := openDemo(t, tr)
			if _, err := s.CallTool("echo", map[string]string{"message": "warm"}); err != nil {
				t.Fatal(err)
			}
			var observer *Store
			var cancelledBefore, inFlightBefore float64
			if tr.name == "http" {
				observer = openDemo(t, tr)
				cancelledBefore = serverCounter(t, observer, "cancelled")
				inFlightBefore = serverCounter(t, observer, "in_flight")
			}
			ch, err := s.Submit("sleep", map[string]int{"ms": 20000})
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the call in flight", func() bool { return poolInFlight(t, s, "demo") == 1 })
			if observer != nil {
				eventually(t, 10*time.Second, "the call at the server", func() bool {
					return serverCounter(t, observer, "in_flight") >= inFlightBefore+1
				})
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case o := <-ch:
				var e *Error
				if !errors.As(o.Err, &e) || e.Status != StatusClosed {
					t.Fatalf("want StatusClosed, got %+v", o)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the pending call did not complete after Close")
			}
			if observer != nil {
				eventually(t, 10*time.Second, "the server to receive the cancellation", func() bool {
					return serverCounter(t, observer, "cancelled") >= cancelledBefore+1
				})
			}
		})
	}
}

func TestManyGoroutines(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			s := openDemo(t, tr)
			var wg sync.WaitGroup
			errs := make(chan error, 1000)
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 20; i++ {
						msg := fmt.Sprintf("g%d-%d", g, i)
						r, err := s.CallTool("echo", map[string]string{"message": msg})
						if err != nil || r.Text != msg {
							errs <- fmt.Errorf("call %s: %v %+v", msg, err, r)
							return
						}
						if _, err := s.CallTool("add", map[string]int{"a": i % 3, "b": 1}); err != nil {
							errs <- err
							return
						}
						ch, err := s.Submit("echo", map[string]string{"message": msg})
						if err != nil {
							errs <- err
							return
						}
						if o := <-ch; o.Err != nil || o.Result.Text != msg {
							errs <- fmt.Errorf("submit %s: %+v", msg, o)
							return
						}
						if i%5 == 0 {
							out, err := s.BatchCall([]Call{{Tool: "echo", Arguments: map[string]string{"message": msg}}})
							if err != nil || out[0].Err != nil || out[0].Result.Text != msg {
								errs <- fmt.Errorf("batch %s: %v", msg, err)
								return
							}
						}
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s, err := Open(fmt.Sprintf(`{"mcpServers": {"demo": {"command": %q}}}`, demoServer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CallTool("echo", map[string]string{"message": "x"}); err != nil {
		t.Fatal(err)
	}
	// Close from several goroutines at once, and again.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Close() }()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CallTool("echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	if _, err := s.Submit("echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	if _, err := s.BatchCall(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestStatusString(t *testing.T) {
	if StatusRPC.String() != "301 (protocol)" || StatusOK != 0 || StatusPanic != 500 {
		t.Fatalf("%v %d %d", StatusRPC, StatusOK, StatusPanic)
	}
}
