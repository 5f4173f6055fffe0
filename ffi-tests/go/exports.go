package mcpstore

// This file exports the Go side of the event callback, the handlers and the authorizer; a
// file with //export may only declare, never define, C functions in its preamble.

/*
#include <stdint.h>
#include "mcpstore.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"time"
)

// mcpsGoEvent runs on the store's dispatch thread with each event; handle
// is the cgo.Handle of the func(Event) given to OnEvent.
//
//export mcpsGoEvent
func mcpsGoEvent(handle C.uintptr_t, eventJSON *C.char) {
	f, _ := cgo.Handle(handle).Value().(func(Event))
	if f == nil {
		return
	}
	e := eventFrom(C.GoString(eventJSON)) // lent for this call only: copy
	defer func() { _ = recover() }()      // a panic must not unwind into C
	f(e)
}

// mcpsGoHandler runs on the store's dispatch thread with a server's request;
// handle is the cgo.Handle of the Handler. The reply is the handler's.
//
//export mcpsGoHandler
func mcpsGoHandler(handle C.uintptr_t, service *C.char, requestJSON *C.char, reply *C.mcps_reply) {
	r := &Reply{ptr: reply}
	runtime.SetFinalizer(r, (*Reply).Release) // a forgotten reply is answered with an error
	h, _ := cgo.Handle(handle).Value().(Handler)
	if h == nil {
		_ = r.Error(-32603, "no handler")
		return
	}
	req := Request{Service: C.GoString(service), JSON: C.GoString(requestJSON)}
	defer func() {
		if p := recover(); p != nil {
			_ = r.Error(-32603, fmt.Sprintf("the client's handler panicked: %v", p))
		}
	}()
	h(req, r)
}

// mcpsGoAuthorizer runs on the thread that needs an OAuth authorization;
// handle is the cgo.Handle of the Authorizer. It returns at once: the
// Authorizer runs on a goroutine of its own and answers from there (a panic
// fails the authorization), so that the library's deadline holds and other
// authorizations of the store need not wait for it.
//
//export mcpsGoAuthorizer
func mcpsGoAuthorizer(handle C.uintptr_t, service, url, redirectURI *C.char, timeoutMs C.uint64_t, a *C.mcps_authorization) {
	f, _ := cgo.Handle(handle).Value().(Authorizer)
	if f == nil {
		answerAuthorization(a, "", fmt.Errorf("no authorizer"))
		return
	}
	timeout := time.Duration(1<<63 - 1)
	if uint64(timeoutMs) < uint64(timeout/time.Millisecond) {
		timeout = time.Duration(timeoutMs) * time.Millisecond
	}
	req := AuthorizationRequest{
		Service:     C.GoString(service), // lent for this call only: copy
		URL:         C.GoString(url),
		RedirectURI: C.GoString(redirectURI),
		Timeout:     timeout,
	}
	go func() {
		redirect, err := func() (redirect string, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("the Go authorizer panicked: %v", p)
				}
			}()
			return f(req)
		}()
		answerAuthorization(a, redirect, err) // too late (the deadline passed) is ignored
	}()
}
