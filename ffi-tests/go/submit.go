package mcpstore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mcpstore.h"

// Defined in callback.go (//export); the same prototype cgo generates.
extern void mcpsGoCallback(uintptr_t handle, mcps_status status, mcps_result *result,
                           mcps_error *cerr);

// Hands the C callback's arguments to the exported Go function.
static void mcpsgo_trampoline(void *userdata, mcps_status status, const mcps_result *result,
                              const mcps_error *error) {
	mcpsGoCallback((uintptr_t)userdata, status, (mcps_result *)result, (mcps_error *)error);
}

// Submits with the trampoline; the cgo.Handle travels as the userdata.
static mcps_status mcpsgo_submit(const mcps_store *s, const char *tool, const char *args,
                                 uintptr_t handle, mcps_error **err) {
	return mcps_store_submit(s, tool, args, mcpsgo_trampoline, (void *)handle, NULL, err);
}
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

// Outcome is the outcome of one call of a batch or a background call:
// a Result or an error (*Error).
type Outcome struct {
	Result *Result
	Err    error
}

// Submit starts a call in the background and returns at once; the channel
// receives its outcome exactly once. The call runs on a library worker
// thread; closing the store ends it with StatusClosed.
func (s *Store) Submit(name string, args any) (<-chan Outcome, error) {
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
	ch := make(chan Outcome, 1)
	h := cgo.NewHandle(ch)
	err = s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcpsgo_submit(p, cName, cArgs, C.uintptr_t(h), &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
	if err != nil {
		h.Delete() // the callback never runs for a refused submission
		return nil, err
	}
	return ch, nil
}

// Call is one call of a batch.
type Call struct {
	Tool      string `json:"tool"`
	Arguments any    `json:"arguments,omitempty"`
	CacheKey  string `json:"cache_key,omitempty"`
}

// BatchCall runs many calls with bounded parallelism; one outcome per call,
// in input order. One call's failure does not fail the batch.
func (s *Store) BatchCall(calls []Call) ([]Outcome, error) {
	if calls == nil {
		calls = []Call{} // "[]", not "null"
	}
	body, err := json.Marshal(calls)
	if err != nil {
		return nil, &Error{Status: StatusInvalidArgument, Message: "cannot encode calls: " + err.Error()}
	}
	if err := checkString("calls", string(body)); err != nil {
		return nil, err
	}
	cCalls := C.CString(string(body))
	defer C.free(unsafe.Pointer(cCalls))
	var items []json.RawMessage
	err = s.with(func(p *C.mcps_store) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_batch_call(p, cCalls, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return json.Unmarshal([]byte(takeString(out)), &items)
	})
	if err != nil {
		return nil, err
	}
	outcomes := make([]Outcome, len(items))
	for i, item := range items {
		outcomes[i] = batchOutcome(item)
	}
	return outcomes, nil
}

// batchOutcome reads one batch item: a CallToolResult or {"error": {...}}.
func batchOutcome(item json.RawMessage) Outcome {
	var probe struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
		Error   *struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
			RPCCode int64  `json:"rpc_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(item, &probe); err != nil {
		return Outcome{Err: &Error{Status: StatusInternal, Message: "malformed batch item: " + err.Error()}}
	}
	if probe.Error != nil && probe.Content == nil {
		return Outcome{Err: &Error{Status: Status(probe.Error.Code), Message: probe.Error.Message, RPCCode: probe.Error.RPCCode}}
	}
	text := ""
	for _, c := range probe.Content {
		if c.Type == "text" {
			if text != "" {
				text += "\n"
			}
			text += c.Text
		}
	}
	return Outcome{Result: &Result{JSON: string(item), Text: text, IsError: probe.IsError}}
}
