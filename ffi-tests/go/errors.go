package mcpstore

/*
#include "mcpstore.h"
*/
import "C"

import "fmt"

// Status is a C API status (mcps_status): stable numbers, grouped by class.
type Status int32

// The statuses of the C API.
const (
	StatusOK                 Status = C.MCPS_OK
	StatusInvalidArgument    Status = C.MCPS_ERR_INVALID_ARGUMENT
	StatusConfig             Status = C.MCPS_ERR_CONFIG
	StatusServiceNotFound    Status = C.MCPS_ERR_SERVICE_NOT_FOUND
	StatusToolNotFound       Status = C.MCPS_ERR_TOOL_NOT_FOUND
	StatusAmbiguousTool      Status = C.MCPS_ERR_AMBIGUOUS_TOOL
	StatusPromptNotFound     Status = C.MCPS_ERR_PROMPT_NOT_FOUND
	StatusAmbiguousPrompt    Status = C.MCPS_ERR_AMBIGUOUS_PROMPT
	StatusResourceNotFound   Status = C.MCPS_ERR_RESOURCE_NOT_FOUND
	StatusAmbiguousResource  Status = C.MCPS_ERR_AMBIGUOUS_RESOURCE
	StatusTransport          Status = C.MCPS_ERR_TRANSPORT
	StatusHTTPStatus         Status = C.MCPS_ERR_HTTP_STATUS
	StatusClosed             Status = C.MCPS_ERR_CLOSED
	StatusAuth               Status = C.MCPS_ERR_AUTH
	StatusProtocol           Status = C.MCPS_ERR_PROTOCOL
	StatusRPC                Status = C.MCPS_ERR_RPC
	StatusUnsupportedVersion Status = C.MCPS_ERR_UNSUPPORTED_VERSION
	StatusResponseTooLarge   Status = C.MCPS_ERR_RESPONSE_TOO_LARGE
	StatusTimeout            Status = C.MCPS_ERR_TIMEOUT
	StatusPoolExhausted      Status = C.MCPS_ERR_POOL_EXHAUSTED
	StatusBusy               Status = C.MCPS_ERR_BUSY
	StatusCancelled          Status = C.MCPS_ERR_CANCELLED
	StatusNotReady           Status = C.MCPS_ERR_NOT_READY
	StatusPanic              Status = C.MCPS_ERR_PANIC
	StatusInternal           Status = C.MCPS_ERR_INTERNAL
)

// String is the status's number and class, e.g. "301 (protocol)".
func (s Status) String() string {
	class := map[int32]string{0: "ok", 1: "caller", 2: "transport", 3: "protocol", 4: "flow control", 5: "internal"}[int32(s)/100]
	return fmt.Sprintf("%d (%s)", int32(s), class)
}

// Error is a failure reported by the C API.
type Error struct {
	Status  Status
	Message string
	// RPCCode is the server's JSON-RPC error code (Status == StatusRPC), else 0.
	RPCCode int64
}

func (e *Error) Error() string {
	return fmt.Sprintf("mcpstore: %s [status %d]", e.Message, int32(e.Status))
}

// errorFrom copies a C error object (owned or lent) into a Go error.
func errorFrom(st C.mcps_status, e *C.mcps_error) *Error {
	out := &Error{Status: Status(st), Message: "no error details"}
	if e != nil {
		out.Status = Status(C.mcps_error_code(e))
		out.Message = C.GoString(C.mcps_error_message(e))
		out.RPCCode = int64(C.mcps_error_rpc_code(e))
	}
	return out
}

// takeError copies and frees an owned C error object.
func takeError(st C.mcps_status, e *C.mcps_error) error {
	defer C.mcps_error_free(e)
	return errorFrom(st, e)
}
