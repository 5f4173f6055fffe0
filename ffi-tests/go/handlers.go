package mcpstore

/*
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "mcpstore.h"

// Defined in exports.go (//export); the same prototype cgo generates.
extern void mcpsGoHandler(uintptr_t handle, char *service, char *request_json, mcps_reply *reply);

static void mcpsgo_handler_trampoline(void *userdata, const char *service, const char *request_json,
                                      mcps_reply *reply) {
	mcpsGoHandler((uintptr_t)userdata, (char *)service, (char *)request_json, reply);
}

// The setters with the trampoline and the cgo.Handle as userdata (0: removes the handler).
static mcps_status mcpsgo_set_handler(const mcps_store *s, int kind, const char *service, uintptr_t handle,
                                      bool flag, mcps_error **err) {
	mcps_handler_callback cb = handle != 0 ? mcpsgo_handler_trampoline : NULL;
	switch (kind) {
	case 0:
		return mcps_store_set_sampling_handler(s, service, cb, (void *)handle, flag, err);
	case 1:
		return mcps_store_set_elicitation_handler(s, service, cb, (void *)handle, flag, err);
	default:
		return mcps_store_set_roots_handler(s, service, cb, (void *)handle, err);
	}
}
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Request is a server's request to the client: the service whose server
// asks, and the request's params as JSON (see docs/c-api.md).
type Request struct {
	Service string
	JSON    string
}

// Decode unmarshals the request's params into v.
func (r Request) Decode(v any) error {
	return json.Unmarshal([]byte(r.JSON), v)
}

// Reply is the one answer a handler owes: Result, Error or Release, exactly
// once (later calls return ErrAnswered), from any goroutine, during the
// handler or after it returned. A reply that is garbage collected unanswered
// is answered with an error.
type Reply struct {
	mu  sync.Mutex
	ptr *C.mcps_reply
}

// ErrAnswered is returned by a Reply's methods after it was answered or released.
var ErrAnswered = &Error{Status: StatusInvalidArgument, Message: "the reply was answered already"}

// take hands the C reply to f once.
func (r *Reply) take(f func(*C.mcps_reply) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return ErrAnswered
	}
	p := r.ptr
	r.ptr = nil
	runtime.SetFinalizer(r, nil)
	return f(p)
}

// Result answers with the request's result (a JSON string, []byte or a value
// to marshal): a CreateMessageResult, an ElicitResult or {"roots": [...]}.
// An invalid answer is sent to the server as an error and returned as an
// *Error with StatusInvalidArgument; a request that timed out gives StatusTimeout.
func (r *Reply) Result(v any) error {
	text, err := jsonText(v)
	if err != nil {
		_ = r.Error(-32603, "the client's handler gave an invalid answer")
		return err
	}
	if err := checkString("result", text); err != nil {
		_ = r.Error(-32603, "the client's handler gave an invalid answer")
		return err
	}
	cText := C.CString(text)
	defer C.free(unsafe.Pointer(cText))
	return r.take(func(p *C.mcps_reply) error {
		var cerr *C.mcps_error
		if st := C.mcps_reply_result(p, cText, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// Error answers with a JSON-RPC error (e.g. -1 for a user who refused).
func (r *Reply) Error(code int64, message string) error {
	if checkString("message", message) != nil {
		message = "the client declined the request"
	}
	cMsg := C.CString(message)
	defer C.free(unsafe.Pointer(cMsg))
	return r.take(func(p *C.mcps_reply) error {
		var cerr *C.mcps_error
		if st := C.mcps_reply_error(p, C.int64_t(code), cMsg, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// Release gives the reply back unanswered (the server gets an error if it still waits).
func (r *Reply) Release() {
	_ = r.take(func(p *C.mcps_reply) error {
		C.mcps_reply_free(p)
		return nil
	})
}

// Pending reports whether the request still waits for this answer.
func (r *Reply) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ptr != nil && bool(C.mcps_reply_is_pending(r.ptr))
}

// Handler answers a server's request through reply. It runs on the store's
// dispatch thread, one at a time with the store's other callbacks: one that
// needs long should answer from a goroutine of its own.
type Handler func(req Request, reply *Reply)

const (
	kindSampling = iota
	kindElicitation
	kindRoots
)

func (s *Store) setHandler(kind int, name, service string, h Handler, flag bool) error {
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	var handle cgo.Handle
	if h != nil {
		handle = cgo.NewHandle(h)
	}
	return s.setCallback(name+"/"+service, handle, func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcpsgo_set_handler(p, C.int(kind), cs[0], C.uintptr_t(handle), C.bool(flag), &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// SetSamplingHandler sets the handler of sampling/createMessage for service
// ("" for every service without one of its own); nil removes it.
// supportsTools declares that requests may carry tools. Register a store's
// handler before adding services: servers learn of it at initialize.
// Replacing a handler returns once a running call of the previous one returned.
func (s *Store) SetSamplingHandler(service string, h Handler, supportsTools bool) error {
	return s.setHandler(kindSampling, "sampling", service, h, supportsTools)
}

// SetElicitationHandler sets the handler of elicitation/create for service
// ("" for the store's); nil removes it. supportsURL declares URL mode. An
// accepted form gets its schema's defaults and is checked against the schema.
func (s *Store) SetElicitationHandler(service string, h Handler, supportsURL bool) error {
	return s.setHandler(kindElicitation, "elicitation", service, h, supportsURL)
}

// SetRootsHandler sets the handler of roots/list for service ("" for the
// store's) and tells the servers the roots changed; nil removes it.
func (s *Store) SetRootsHandler(service string, h Handler) error {
	return s.setHandler(kindRoots, "roots", service, h, false)
}

// UseAcceptDefaults answers the elicitations of service ("" for the store's)
// with the built-in handler: every form accepted with its schema's defaults.
func (s *Store) UseAcceptDefaults(service string) error {
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	return s.setCallback("elicitation/"+service, 0, func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_use_accept_defaults(p, cs[0], &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// Root is a directory (a file:// URI) the servers may work under.
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// SetRoots gives service ("" for every service without roots of its own)
// these roots and tells the servers the roots changed.
func (s *Store) SetRoots(service string, roots []Root) error {
	if roots == nil {
		roots = []Root{}
	}
	text, err := json.Marshal(roots)
	if err != nil {
		return err
	}
	if err := checkString("roots", string(text)); err != nil {
		return err
	}
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	cRoots := C.CString(string(text))
	defer C.free(unsafe.Pointer(cRoots))
	return s.setCallback("roots/"+service, 0, func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_set_roots(p, cs[0], cRoots, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// RootsChanged tells the servers of service ("" for every service using the
// store's roots) that the roots changed, so that they ask again.
func (s *Store) RootsChanged(service string) error {
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	return s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_roots_changed(p, cs[0], &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}
