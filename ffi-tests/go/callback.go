package mcpstore

// This file exports the Go side of the C callback; a file with //export may
// only declare, never define, C functions in its preamble.

/*
#include <stdint.h>
#include "mcpstore.h"
*/
import "C"

import "runtime/cgo"

// mcpsGoCallback runs on a library worker thread when a background call
// submitted by Submit finishes. handle is the cgo.Handle of its channel.
//
//export mcpsGoCallback
func mcpsGoCallback(handle C.uintptr_t, status C.mcps_status, result *C.mcps_result, cerr *C.mcps_error) {
	h := cgo.Handle(handle)
	ch, _ := h.Value().(chan Outcome)
	h.Delete()
	var out Outcome
	if status == C.MCPS_OK && result != nil {
		out.Result = copyResult(result) // lent for this call only: copy
	} else {
		out.Err = errorFrom(status, cerr)
	}
	if ch != nil {
		ch <- out // buffered: never blocks the worker
	}
}
