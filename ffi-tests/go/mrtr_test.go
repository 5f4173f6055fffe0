package mcpstore

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Multi-round-trip results (MRTR, protocol 2026-07-28) through the Go
// binding, against the rmcp 3.11 interop server over stdio and Streamable
// HTTP: confirm_action (elicitation), ask_model (sampling) and client_roots
// (roots) answer tools/call with input_required, and the store fulfils the
// input requests through the Go handlers and retries — in a blocking call, a
// batch and background calls. Then the same with the service pinned to
// 2025-11-25, where the tools send classic server requests to the same handlers.

// rmcpServer is the rmcp interop server (scripts/install-test-deps.sh):
// $MCPSTORE_RMCP_SERVER, else its place under target/test-deps. A missing
// server fails the tests.
var rmcpServer string

const (
	eraModern    = "2026-07-28"
	eraHandshake = "2025-11-25"
	slowAnswer   = 2500 * time.Millisecond // the sampling handler's delay for a "slow" question
	slowDeadline = 500 * time.Millisecond  // the deadline of that call
)

// mrtrHandlers are the store's elicitation, sampling and roots handlers and what they saw.
type mrtrHandlers struct {
	elicitations, samplings, roots atomic.Int32
	mu                             sync.Mutex
	lastElicitation, lastSampling  Request
}

// elicit accepts (confirmed: true), but declines an action containing "drop".
func (h *mrtrHandlers) elicit(req Request, reply *Reply) {
	h.elicitations.Add(1)
	h.mu.Lock()
	h.lastElicitation = req
	h.mu.Unlock()
	var params struct {
		Mode    string `json:"mode"`
		Message string `json:"message"`
	}
	_ = req.Decode(&params)
	if strings.Contains(params.Message, "drop") {
		_ = reply.Result(map[string]any{"action": "decline"})
		return
	}
	_ = reply.Result(map[string]any{"action": "accept", "content": map[string]any{"confirmed": true}})
}

// sample answers "Go says <question>" as model go-model; refuses a question
// containing "refuse"; answers one containing "slow" after slowAnswer.
func (h *mrtrHandlers) sample(req Request, reply *Reply) {
	h.samplings.Add(1)
	h.mu.Lock()
	h.lastSampling = req
	h.mu.Unlock()
	var params struct {
		Messages []struct {
			Content struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"messages"`
	}
	_ = req.Decode(&params)
	question := ""
	if len(params.Messages) > 0 {
		question = params.Messages[0].Content.Text
	}
	if strings.Contains(question, "refuse") {
		_ = reply.Error(-1, "the user said no")
		return
	}
	if strings.Contains(question, "slow") {
		time.Sleep(slowAnswer)
	}
	_ = reply.Result(map[string]any{
		"role":       "assistant",
		"content":    map[string]any{"type": "text", "text": "Go says " + question},
		"model":      "go-model",
		"stopReason": "endTurn",
	})
}

func (h *mrtrHandlers) listRoots(req Request, reply *Reply) {
	h.roots.Add(1)
	_ = reply.Result(map[string]any{"roots": []map[string]any{{"uri": "file:///srv/go-mrtr", "name": "go"}}})
}

// startRMCPHTTP starts `rmcp-interop-server --http 0` for the test and returns
// the URL of its READY line (stdout); it is killed when the test ends.
func startRMCPHTTP(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(rmcpServer, "--http", "0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", rmcpServer, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if line := lines.Text(); strings.HasPrefix(line, "READY ") {
				ready <- strings.TrimSpace(strings.TrimPrefix(line, "READY "))
				break
			}
		}
		close(ready)
	}()
	select {
	case url, ok := <-ready:
		if !ok {
			t.Fatalf("%s --http 0 exited before its READY line", rmcpServer)
		}
		return url
	case <-time.After(20 * time.Second):
		t.Fatalf("%s --http 0 printed no READY line within 20 s", rmcpServer)
	}
	return ""
}

// openRMCP opens a store with the handlers registered before the service is
// added (a 2025-11-25 server learns of the capabilities at initialize).
func openRMCP(t *testing.T, h *mrtrHandlers, entry map[string]any) *Store {
	t.Helper()
	s, err := Open(`{"mcpServers": {}, "performance": {"handler_timeout": 10}}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.SetElicitationHandler("", h.elicit, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSamplingHandler("", h.sample, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRootsHandler("", h.listRoots); err != nil {
		t.Fatal(err)
	}
	if err := s.AddService("rmcp", entry); err != nil {
		t.Fatal(err)
	}
	tools, err := s.ListTools("rmcp")
	if err != nil {
		t.Fatalf("the rmcp server did not start: %v", err)
	}
	names := map[string]bool{}
	for _, tool := range tools {
		name, _ := tool["name"].(string)
		names[name] = true
	}
	for _, want := range []string{"confirm_action", "ask_model", "client_roots", "echo"} {
		if !names[want] {
			t.Fatalf("the rmcp server does not offer %s: %v", want, names)
		}
	}
	return s
}

func eraOf(t *testing.T, s *Store) string {
	t.Helper()
	services, err := s.ListServices()
	if err != nil || len(services) != 1 {
		t.Fatalf("ListServices: %v %v", services, err)
	}
	era, _ := services[0]["protocol_version"].(string)
	return era
}

// wantText checks that a call succeeds with exactly want as its text.
func wantText(t *testing.T, s *Store, tool string, args any, want string) {
	t.Helper()
	r, err := s.CallTool(tool, args)
	if err != nil {
		t.Errorf("%s %v: %v", tool, args, err)
		return
	}
	if r.IsError || r.Text != want {
		t.Errorf("%s %v: got %q (isError %v), want %q", tool, args, r.Text, r.IsError, want)
	}
}

func statusOf(err error) Status {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return StatusOK
}

func checkMRTRBlocking(t *testing.T, s *Store, h *mrtrHandlers, modern bool) {
	elicitations, samplings, roots := h.elicitations.Load(), h.samplings.Load(), h.roots.Load()

	wantText(t, s, "rmcp.confirm_action", map[string]any{"action": "deploy"}, "confirmed: deploy")
	if got := h.elicitations.Load(); got != elicitations+1 {
		t.Errorf("elicitation handler ran %d times, want 1", got-elicitations)
	}
	h.mu.Lock()
	last := h.lastElicitation
	h.mu.Unlock()
	if last.Service != "rmcp" || !strings.Contains(last.JSON, `"mode":"form"`) ||
		!strings.Contains(last.JSON, "Confirm deploy?") || !strings.Contains(last.JSON, `"requestedSchema":`) {
		t.Errorf("elicitation request: %+v", last)
	}
	// The handler declines: the server hears it.
	wantText(t, s, "rmcp.confirm_action", map[string]any{"action": "drop table"}, "not confirmed: drop table")

	wantText(t, s, "rmcp.ask_model", map[string]any{"question": "what is 6*7"}, "model go-model said: Go says what is 6*7")
	if got := h.samplings.Load(); got != samplings+1 {
		t.Errorf("sampling handler ran %d times, want 1", got-samplings)
	}
	h.mu.Lock()
	lastSampling := h.lastSampling
	h.mu.Unlock()
	if !strings.Contains(lastSampling.JSON, `"maxTokens":100`) || !strings.Contains(lastSampling.JSON, "what is 6*7") {
		t.Errorf("sampling request: %+v", lastSampling)
	}

	wantText(t, s, "rmcp.client_roots", nil, "roots: file:///srv/go-mrtr")
	if h.roots.Load() <= roots {
		t.Errorf("the roots handler never ran")
	}

	// A handler that refuses: the call fails (2026-07-28) or the tool reports
	// it (2025-11-25), with the handler's message.
	r, err := s.CallTool("rmcp.ask_model", map[string]any{"question": "refuse this"})
	if modern {
		if statusOf(err) != StatusRPC || !strings.Contains(err.Error(), "the user said no") {
			t.Errorf("refused sampling: %+v %v, want a StatusRPC error", r, err)
		}
	} else if err != nil || !r.IsError || !strings.Contains(r.Text, "the user said no") {
		t.Errorf("refused sampling: %+v %v, want a tool error", r, err)
	}

	// The call's deadline holds across the rounds.
	start := time.Now()
	_, err = s.CallToolWith("rmcp.ask_model", map[string]any{"question": "slow one"}, &CallOptions{Timeout: slowDeadline})
	if took := time.Since(start); statusOf(err) != StatusTimeout || took > slowDeadline+1500*time.Millisecond {
		t.Errorf("slow sampling: %v after %v, want a timeout after %v", err, took, slowDeadline)
	}
	// The session lives on (this waits for the dispatch thread the slow handler holds).
	wantText(t, s, "rmcp.echo", map[string]any{"message": "after the timeout"}, "after the timeout")
	wantText(t, s, "rmcp.confirm_action", map[string]any{"action": "again"}, "confirmed: again")
}

// In 2026-07-28 a result that took input rounds is never cached, even under a cache key.
func checkMRTRNeverCached(t *testing.T, s *Store) {
	for i := 0; i < 2; i++ {
		r, err := s.CallToolWith("rmcp.confirm_action", map[string]any{"action": "cache"}, &CallOptions{CacheKey: "go-mrtr-confirm"})
		if err != nil || r.Text != "confirmed: cache" || r.FromCache {
			t.Errorf("call %d under a cache key: %+v %v", i, r, err)
		}
	}
	for i := 0; i < 2; i++ {
		r, err := s.CallToolWith("rmcp.echo", map[string]any{"message": "cached"}, &CallOptions{CacheKey: "go-mrtr-echo"})
		if err != nil || r.FromCache != (i == 1) {
			t.Errorf("plain call %d under a cache key: %+v %v", i, r, err)
		}
	}
	if err := s.ClearCache(); err != nil {
		t.Fatal(err)
	}
}

type mrtrCall struct {
	tool string
	args map[string]any
	want string
}

func mrtrCalls(prefix string) []mrtrCall {
	return []mrtrCall{
		{"rmcp.confirm_action", map[string]any{"action": prefix + "0"}, "confirmed: " + prefix + "0"},
		{"rmcp.ask_model", map[string]any{"question": prefix + "1"}, "model go-model said: Go says " + prefix + "1"},
		{"rmcp.echo", map[string]any{"message": prefix + "2"}, prefix + "2"},
		{"rmcp.client_roots", map[string]any{}, "roots: file:///srv/go-mrtr"},
		{"rmcp.confirm_action", map[string]any{"action": "drop " + prefix + "4"}, "not confirmed: drop " + prefix + "4"},
		{"rmcp.confirm_action", map[string]any{"action": prefix + "5"}, "confirmed: " + prefix + "5"},
		{"rmcp.ask_model", map[string]any{"question": prefix + "6"}, "model go-model said: Go says " + prefix + "6"},
	}
}

func checkMRTRBatch(t *testing.T, s *Store, modern bool) {
	calls := mrtrCalls("batch")
	batch := make([]Call, 0, len(calls)+1)
	for _, c := range calls {
		batch = append(batch, Call{Tool: c.tool, Arguments: c.args})
	}
	// Under a cache key too: in 2026-07-28 the second batch finds nothing
	// cached (the result took input rounds); in 2025-11-25 it is a plain call.
	batch = append(batch, Call{Tool: "rmcp.confirm_action", Arguments: map[string]any{"action": "keyed"}, CacheKey: "go-mrtr-keyed"})
	calls = append(calls, mrtrCall{want: "confirmed: keyed"})
	for round := 0; round < 2; round++ {
		outcomes, err := s.BatchCall(batch)
		if err != nil {
			t.Fatalf("BatchCall: %v", err)
		}
		if len(outcomes) != len(calls) {
			t.Fatalf("%d outcomes for %d calls", len(outcomes), len(calls))
		}
		for i, o := range outcomes {
			if o.Err != nil || o.Result.IsError || o.Result.Text != calls[i].want {
				t.Errorf("batch %d, call %d: %+v %v, want %q", round, i, o.Result, o.Err, calls[i].want)
			} else if modern && strings.Contains(o.Result.JSON, `"hit":true`) {
				t.Errorf("batch %d, call %d came from the cache: %s", round, i, o.Result.JSON)
			}
		}
	}
}

func checkMRTRBackground(t *testing.T, s *Store) {
	calls := mrtrCalls("bg")
	chans := make([]<-chan Outcome, len(calls))
	for i, c := range calls {
		var err error
		if i%2 == 0 {
			chans[i], err = s.Submit(c.tool, c.args)
		} else {
			chans[i], err = s.SubmitWith(c.tool, c.args, &CallOptions{Timeout: 30 * time.Second})
		}
		if err != nil {
			t.Fatalf("Submit %s: %v", c.tool, err)
		}
	}
	for i, ch := range chans {
		select {
		case o := <-ch:
			if o.Err != nil || o.Result.IsError || o.Result.Text != calls[i].want {
				t.Errorf("background call %d: %+v %v, want %q", i, o.Result, o.Err, calls[i].want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("background call %d did not finish within 60 s", i)
		}
	}
}

// TestMRTRBothEras runs the MRTR tools over stdio and HTTP, with protocol
// auto (which finds 2026-07-28) and pinned to 2025-11-25.
func TestMRTRBothEras(t *testing.T) {
	if _, err := os.Stat(rmcpServer); err != nil {
		t.Fatalf("test dependency missing (run `bash scripts/install-test-deps.sh`): %v", err)
	}
	url := startRMCPHTTP(t)
	stdio := func() map[string]any { return map[string]any{"command": rmcpServer, "args": []string{"--stdio"}} }
	http := func() map[string]any { return map[string]any{"url": url} }
	for _, c := range []struct {
		transport string
		entry     func() map[string]any
		pin       string
	}{
		{"stdio", stdio, ""},
		{"http", http, ""},
		{"stdio", stdio, eraHandshake},
		{"http", http, eraHandshake},
	} {
		c := c
		want := eraModern
		name := c.transport + "/auto"
		entry := c.entry()
		if c.pin != "" {
			want, name = c.pin, fmt.Sprintf("%s/pinned-%s", c.transport, c.pin)
			entry["protocol"] = c.pin
		}
		t.Run(name, func(t *testing.T) {
			h := &mrtrHandlers{}
			s := openRMCP(t, h, entry)
			if era := eraOf(t, s); era != want {
				t.Fatalf("era %q, want %q", era, want)
			}
			checkMRTRBlocking(t, s, h, want == eraModern)
			if want == eraModern {
				checkMRTRNeverCached(t, s)
			}
			checkMRTRBatch(t, s, want == eraModern)
			checkMRTRBackground(t, s)
			if era := eraOf(t, s); era != want {
				t.Errorf("era %q after the calls, want %q", era, want)
			}
			if h.elicitations.Load() == 0 || h.samplings.Load() == 0 || h.roots.Load() == 0 {
				t.Errorf("handlers ran: elicitation %d, sampling %d, roots %d",
					h.elicitations.Load(), h.samplings.Load(), h.roots.Load())
			}
		})
	}
}
