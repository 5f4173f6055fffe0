package mcpstore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mcpstore.h"

// Defined in callback.go (//export); the same prototype cgo generates.
extern void mcpsGoCallback(uintptr_t handle, mcps_status status, mcps_result *result,
                           mcps_error *cerr);

static void mcpsgo_trampoline_with(void *userdata, mcps_status status, const mcps_result *result,
                                   const mcps_error *error) {
	mcpsGoCallback((uintptr_t)userdata, status, (mcps_result *)result, (mcps_error *)error);
}

// Submits with options and a token; the cgo.Handle travels as the userdata.
static mcps_status mcpsgo_submit_with(const mcps_store *s, const char *tool, const char *args,
                                      const char *options, const mcps_cancel *cancel,
                                      uintptr_t handle, mcps_error **err) {
	return mcps_store_submit_with(s, tool, args, options, cancel, mcpsgo_trampoline_with,
	                              (void *)handle, NULL, err);
}
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// CallOptions are per-call options, the same as the Rust API's: the call's
// overall Timeout (0: the store's call_timeout), a CacheKey (serve from and
// store in the cache under it), BypassCache, RetryNonIdempotent (retry even
// when the call may have run) and a Cancel token.
type CallOptions struct {
	Timeout            time.Duration
	CacheKey           string
	BypassCache        bool
	RetryNonIdempotent bool
	Cancel             *CancelToken
}

// optionsJSON is the options object of the C API (NULL for the defaults).
func (o *CallOptions) optionsJSON() (*C.char, error) {
	if o == nil {
		return nil, nil
	}
	m := map[string]any{}
	if o.Timeout > 0 {
		m["timeout_ms"] = o.Timeout.Milliseconds()
	}
	if o.CacheKey != "" {
		m["cache_key"] = o.CacheKey
	}
	if o.BypassCache {
		m["bypass_cache"] = true
	}
	if o.RetryNonIdempotent {
		m["retry_non_idempotent"] = true
	}
	text, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return C.CString(string(text)), nil
}

func (o *CallOptions) token() *C.mcps_cancel {
	if o == nil || o.Cancel == nil {
		return nil
	}
	return o.Cancel.ptr
}

// CancelToken cancels every call it is given (a blocking call returns
// StatusCancelled at once, the server is told). One token may serve many
// calls. Close frees it (calls that hold it are not cancelled by that).
type CancelToken struct {
	once sync.Once
	ptr  *C.mcps_cancel
}

// NewCancelToken makes a token.
func NewCancelToken() (*CancelToken, error) {
	var ptr *C.mcps_cancel
	var cerr *C.mcps_error
	if st := C.mcps_cancel_new(&ptr, &cerr); st != C.MCPS_OK {
		return nil, takeError(st, cerr)
	}
	t := &CancelToken{ptr: ptr}
	runtime.SetFinalizer(t, func(t *CancelToken) { t.Close() })
	return t, nil
}

// Cancel stops every call holding the token, and every later call given it.
func (t *CancelToken) Cancel() {
	C.mcps_cancel_cancel(t.ptr)
}

// Cancelled reports whether Cancel was called.
func (t *CancelToken) Cancelled() bool {
	return bool(C.mcps_cancel_is_cancelled(t.ptr))
}

// Close frees the token; use it no more afterwards.
func (t *CancelToken) Close() {
	t.once.Do(func() {
		C.mcps_cancel_free(t.ptr)
	})
}

// CallToolWith is CallTool with per-call options.
func (s *Store) CallToolWith(name string, args any, opts *CallOptions) (*Result, error) {
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
	cOpts, err := opts.optionsJSON()
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cOpts))
	var result *Result
	err = s.with(func(p *C.mcps_store) error {
		var r *C.mcps_result
		var cerr *C.mcps_error
		if st := C.mcps_store_call_tool_with(p, cName, cArgs, cOpts, opts.token(), &r, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		result = copyResult(r)
		C.mcps_result_free(r)
		return nil
	})
	runtime.KeepAlive(opts)
	return result, err
}

// SubmitWith is Submit with per-call options.
func (s *Store) SubmitWith(name string, args any, opts *CallOptions) (<-chan Outcome, error) {
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
	cOpts, err := opts.optionsJSON()
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cOpts))
	ch := make(chan Outcome, 1)
	h := cgo.NewHandle(ch)
	err = s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcpsgo_submit_with(p, cName, cArgs, cOpts, opts.token(), C.uintptr_t(h), &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
	runtime.KeepAlive(opts)
	if err != nil {
		h.Delete() // the callback never runs for a refused submission
		return nil, err
	}
	return ch, nil
}
