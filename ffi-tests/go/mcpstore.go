// Package mcpstore is a Go binding of the mcpstore C API (include/mcpstore.h):
// a blocking MCP client with pooled sessions to many MCP servers.
//
// It links the static library built by cargo (`cargo build` puts it at
// target/debug/libmcpstore.a; see docs/c-api.md for other layouts).
// A *Store is safe for concurrent use by many goroutines.
package mcpstore

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/debug/libmcpstore.a -lpthread -ldl -lm
#include <stdlib.h>
#include "mcpstore.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("mcpstore: store is closed")

// Version is the C library's version, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.mcps_version())
}

// Store keeps MCP services at hand and calls their tools. Close it when done
// (a finalizer closes a forgotten one, but at an unknown time).
type Store struct {
	mu  sync.RWMutex
	ptr *C.mcps_store
	// The cgo.Handles of the event callback and the handlers in force.
	callbacks callbacks
}

// Result is a tool's result: the MCP CallToolResult as JSON, its text
// content joined with newlines, and whether the tool reported an error
// (isError: a tool failure is a result, not a Go error).
type Result struct {
	JSON    string
	Text    string
	IsError bool
	// FromCache says the result came from the result cache (only calls with
	// a cache key or a service cache policy are cached); CacheAgeMs is its age.
	FromCache  bool
	CacheAgeMs int64
	// SchemaMismatch says why structuredContent does not fit the tool's
	// outputSchema ("" when it fits or the tool declares none).
	SchemaMismatch string
}

// Decode unmarshals the CallToolResult JSON into v.
func (r *Result) Decode(v any) error {
	return json.Unmarshal([]byte(r.JSON), v)
}

// Open creates a store from the text of an mcp.json file
// ({"mcpServers": {...}, "performance": {...}}); "" gives the defaults.
func Open(config string) (*Store, error) {
	var cConfig *C.char
	if config != "" {
		if err := checkString("config", config); err != nil {
			return nil, err
		}
		cConfig = C.CString(config)
		defer C.free(unsafe.Pointer(cConfig))
	}
	var ptr *C.mcps_store
	var cerr *C.mcps_error
	if st := C.mcps_store_new(cConfig, &ptr, &cerr); st != C.MCPS_OK {
		return nil, takeError(st, cerr)
	}
	return newStore(ptr), nil
}

// OpenFile creates a store from an mcp.json file.
func OpenFile(path string) (*Store, error) {
	if err := checkString("path", path); err != nil {
		return nil, err
	}
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	var ptr *C.mcps_store
	var cerr *C.mcps_error
	if st := C.mcps_store_new_from_file(cPath, &ptr, &cerr); st != C.MCPS_OK {
		return nil, takeError(st, cerr)
	}
	return newStore(ptr), nil
}

func newStore(ptr *C.mcps_store) *Store {
	s := &Store{ptr: ptr}
	runtime.SetFinalizer(s, func(s *Store) { _ = s.Close() })
	return s
}

// Close frees the store: sessions and server processes are closed, pending
// background calls complete with StatusClosed. It waits for calls running
// on other goroutines to return first. Closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return nil
	}
	C.mcps_store_free(s.ptr) // returns once a running callback or handler returned
	s.ptr = nil
	s.callbacks.deleteAll()
	runtime.SetFinalizer(s, nil)
	return nil
}

// with runs f with the live C store, or fails with ErrClosed. Only Close
// takes the write lock, so a failed TryRLock means the store is closing:
// a handler or callback that calls the store while Close waits for it to
// return gets ErrClosed instead of waiting for Close (a deadlock).
func (s *Store) with(f func(*C.mcps_store) error) error {
	if !s.mu.TryRLock() {
		return ErrClosed
	}
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return ErrClosed
	}
	err := f(s.ptr)
	runtime.KeepAlive(s)
	return err
}

// AddService adds a service from its mcp.json entry (a JSON string, []byte
// or a value to marshal), e.g. map[string]any{"command": "server"}.
func (s *Store) AddService(name string, entry any) error {
	text, err := jsonText(entry)
	if err != nil {
		return err
	}
	if err := checkString("name", name); err != nil {
		return err
	}
	cName, cEntry := C.CString(name), C.CString(text)
	defer C.free(unsafe.Pointer(cName))
	defer C.free(unsafe.Pointer(cEntry))
	return s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_add_service(p, cName, cEntry, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// RemoveService removes a service and closes its sessions.
func (s *Store) RemoveService(name string) error {
	if err := checkString("name", name); err != nil {
		return err
	}
	cName := C.CString(name)
	defer C.free(unsafe.Pointer(cName))
	return s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_remove_service(p, cName, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// CallTool calls a tool by name ("service.tool", "service_tool" or a unique
// bare name) with args (nil, a JSON string, []byte, json.RawMessage or a
// value to marshal into a JSON object) and waits for its result.
func (s *Store) CallTool(name string, args any) (*Result, error) {
	if err := checkString("tool", name); err != nil {
		return nil, err
	}
	cName := C.CString(name)
	defer C.free(unsafe.Pointer(cName))
	cArgs, err := cArguments(args)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cArgs))
	var result *Result
	err = s.with(func(p *C.mcps_store) error {
		var r *C.mcps_result
		var cerr *C.mcps_error
		if st := C.mcps_store_call_tool(p, cName, cArgs, &r, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		result = copyResult(r)
		C.mcps_result_free(r)
		return nil
	})
	return result, err
}

// ListTools returns the tools of one service ("" for all) as JSON objects,
// each with an added "service" field.
func (s *Store) ListTools(service string) ([]map[string]any, error) {
	var cService *C.char
	if service != "" {
		if err := checkString("service", service); err != nil {
			return nil, err
		}
		cService = C.CString(service)
		defer C.free(unsafe.Pointer(cService))
	}
	var tools []map[string]any
	err := s.with(func(p *C.mcps_store) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_list_tools(p, cService, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return json.Unmarshal([]byte(takeString(out)), &tools)
	})
	return tools, err
}

// ListServices returns the services as JSON objects (name, transport, state, ...).
func (s *Store) ListServices() ([]map[string]any, error) {
	var services []map[string]any
	err := s.with(func(p *C.mcps_store) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_list_services(p, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return json.Unmarshal([]byte(takeString(out)), &services)
	})
	return services, err
}

// Stats returns the store's statistics (pool, cache, executor, objects) as JSON.
func (s *Store) Stats() (json.RawMessage, error) {
	var stats json.RawMessage
	err := s.with(func(p *C.mcps_store) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_stats(p, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		stats = json.RawMessage(takeString(out))
		return nil
	})
	return stats, err
}

// ClearCache empties the result cache.
func (s *Store) ClearCache() error {
	return s.with(func(p *C.mcps_store) error {
		if st := C.mcps_store_clear_cache(p); st != C.MCPS_OK {
			return &Error{Status: Status(st), Message: "clear_cache failed"}
		}
		return nil
	})
}

// copyResult copies a C result (owned or lent) into Go memory.
func copyResult(r *C.mcps_result) *Result {
	return &Result{
		JSON:       C.GoString(C.mcps_result_json(r)),
		Text:       C.GoString(C.mcps_result_text(r)),
		IsError:    bool(C.mcps_result_is_error(r)),
		FromCache:  bool(C.mcps_result_from_cache(r)),
		CacheAgeMs: int64(C.mcps_result_cache_age_ms(r)),
		// GoString(NULL) is "".
		SchemaMismatch: C.GoString(C.mcps_result_schema_mismatch(r)),
	}
}

// takeString copies and frees a string the library returned.
func takeString(s *C.char) string {
	defer C.mcps_string_free(s)
	return C.GoString(s)
}

// jsonText turns a JSON string, []byte, json.RawMessage or value into JSON text.
func jsonText(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []byte:
		return string(t), nil
	case json.RawMessage:
		return string(t), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", &Error{Status: StatusInvalidArgument, Message: "cannot encode arguments: " + err.Error()}
		}
		return string(b), nil
	}
}

// cArguments encodes tool arguments as a C string (nil means {}); free it with C.free.
func cArguments(args any) (*C.char, error) {
	if args == nil {
		return nil, nil
	}
	text, err := jsonText(args)
	if err != nil {
		return nil, err
	}
	if err := checkString("args", text); err != nil {
		return nil, err
	}
	return C.CString(text), nil
}

// checkString refuses a string C would see cut short at a NUL byte.
func checkString(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return &Error{Status: StatusInvalidArgument, Message: what + " contains a NUL byte"}
	}
	return nil
}
