package mcpstore

/*
#include <stdlib.h>
#include "mcpstore.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// optString is a C copy of s, or NULL for "" (free it with C.free; C.free(NULL) is fine).
func optString(what, s string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	if err := checkString(what, s); err != nil {
		return nil, err
	}
	return C.CString(s), nil
}

// cStrings copies every (name, value) pair to C, nil for ""; the caller
// frees them with freeStrings, also on an error.
func cStrings(pairs ...string) ([]*C.char, error) {
	out := make([]*C.char, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		c, err := optString(pairs[i], pairs[i+1])
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func freeStrings(cs []*C.char) {
	for _, c := range cs {
		C.free(unsafe.Pointer(c))
	}
}

// stringCall runs a C function that writes a new string to *out and returns it.
func (s *Store) stringCall(f func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status) (string, error) {
	var text string
	err := s.with(func(p *C.mcps_store) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := f(p, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		text = takeString(out)
		return nil
	})
	return text, err
}

// list runs a list function for one service ("" for all) and decodes its JSON array.
func (s *Store) list(service string, f func(*C.mcps_store, *C.char, **C.char, **C.mcps_error) C.mcps_status) ([]map[string]any, error) {
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return nil, err
	}
	text, err := s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return f(p, cs[0], out, cerr)
	})
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	return items, json.Unmarshal([]byte(text), &items)
}

// ListResources returns the resources of one service ("" for all) as MCP
// Resource objects (uri, name, mimeType, ...), each with an added "service".
func (s *Store) ListResources(service string) ([]map[string]any, error) {
	return s.list(service, func(p *C.mcps_store, svc *C.char, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_list_resources(p, svc, out, cerr)
	})
}

// ListResourceTemplates returns the resource templates of one service ("" for
// all) as MCP ResourceTemplate objects (uriTemplate, name, ...), each with "service".
func (s *Store) ListResourceTemplates(service string) ([]map[string]any, error) {
	return s.list(service, func(p *C.mcps_store, svc *C.char, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_list_resource_templates(p, svc, out, cerr)
	})
}

// ListPrompts returns the prompts of one service ("" for all) as MCP Prompt
// objects (name, description, arguments, ...), each with an added "service".
func (s *Store) ListPrompts(service string) ([]map[string]any, error) {
	return s.list(service, func(p *C.mcps_store, svc *C.char, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_list_prompts(p, svc, out, cerr)
	})
}

// ResourceContents is one item of a read resource: Text, or Blob (base64).
type ResourceContents struct {
	URI      string  `json:"uri"`
	MimeType string  `json:"mimeType,omitempty"`
	Text     *string `json:"text,omitempty"`
	Blob     string  `json:"blob,omitempty"`
}

// ResourceResult is a read resource (MCP ReadResourceResult); JSON is the whole of it.
type ResourceResult struct {
	Contents []ResourceContents `json:"contents"`
	JSON     string             `json:"-"`
}

// ResolveResource returns the service that serves uri.
func (s *Store) ResolveResource(uri string) (string, error) {
	if err := checkString("uri", uri); err != nil {
		return "", err
	}
	cURI := C.CString(uri)
	defer C.free(unsafe.Pointer(cURI))
	return s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_resolve_resource(p, cURI, out, cerr)
	})
}

// ReadResource reads uri from the service that serves it.
func (s *Store) ReadResource(uri string) (*ResourceResult, error) {
	return s.ReadResourceWith("", uri, nil)
}

// ReadResourceWith reads uri from service ("": the one that serves it) with
// per-call options (Timeout and Cancel apply).
func (s *Store) ReadResourceWith(service, uri string, opts *CallOptions) (*ResourceResult, error) {
	if err := checkString("uri", uri); err != nil {
		return nil, err
	}
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return nil, err
	}
	cURI := C.CString(uri)
	defer C.free(unsafe.Pointer(cURI))
	cOpts, err := opts.optionsJSON()
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cOpts))
	text, err := s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_read_resource_with(p, cs[0], cURI, cOpts, opts.token(), out, cerr)
	})
	runtime.KeepAlive(opts)
	if err != nil {
		return nil, err
	}
	r := &ResourceResult{JSON: text}
	return r, json.Unmarshal([]byte(text), r)
}

// SubscribeResource subscribes to updates of uri on service ("": the one
// that serves it); updates arrive as "resource_updated" events. Returns the service.
func (s *Store) SubscribeResource(service, uri string) (string, error) {
	cs, err := cStrings("service", service, "uri", uri)
	defer freeStrings(cs)
	if err != nil {
		return "", err
	}
	if uri == "" {
		return "", &Error{Status: StatusInvalidArgument, Message: "uri is empty"}
	}
	return s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_subscribe_resource(p, cs[0], cs[1], out, cerr)
	})
}

// UnsubscribeResource ends a subscription made with SubscribeResource.
func (s *Store) UnsubscribeResource(service, uri string) error {
	cs, err := cStrings("service", service, "uri", uri)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	return s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_unsubscribe_resource(p, cs[0], cs[1], &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// Subscriptions returns the URIs service is subscribed to.
func (s *Store) Subscriptions(service string) ([]string, error) {
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return nil, err
	}
	text, err := s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_subscriptions(p, cs[0], out, cerr)
	})
	if err != nil {
		return nil, err
	}
	var uris []string
	return uris, json.Unmarshal([]byte(text), &uris)
}

// PromptMessage is one message of a prompt: a role and a content block.
type PromptMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// PromptResult is a prompt got with its arguments (MCP GetPromptResult); JSON is the whole of it.
type PromptResult struct {
	Description string          `json:"description,omitempty"`
	Messages    []PromptMessage `json:"messages"`
	JSON        string          `json:"-"`
}

// GetPrompt gets a prompt by name ("service.prompt", "service_prompt" or a
// unique bare name) with its arguments (nil, a JSON string, or a value to
// marshal into an object of strings).
func (s *Store) GetPrompt(name string, args any) (*PromptResult, error) {
	return s.GetPromptWith(name, args, nil)
}

// GetPromptWith is GetPrompt with per-call options (Timeout and Cancel apply).
func (s *Store) GetPromptWith(name string, args any, opts *CallOptions) (*PromptResult, error) {
	if err := checkString("name", name); err != nil {
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
	text, err := s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_get_prompt_with(p, cName, cArgs, cOpts, opts.token(), out, cerr)
	})
	runtime.KeepAlive(opts)
	if err != nil {
		return nil, err
	}
	r := &PromptResult{JSON: text}
	return r, json.Unmarshal([]byte(text), r)
}

// CompletionRef names what Complete completes: PromptRef or ResourceRef.
type CompletionRef struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// PromptRef refers to an argument of the prompt name.
func PromptRef(name string) CompletionRef { return CompletionRef{Type: "ref/prompt", Name: name} }

// ResourceRef refers to a variable of the resource template uriTemplate.
func ResourceRef(uriTemplate string) CompletionRef {
	return CompletionRef{Type: "ref/resource", URI: uriTemplate}
}

// Completion holds the values suggested for an argument.
type Completion struct {
	Values  []string `json:"values"`
	Total   *int64   `json:"total,omitempty"`
	HasMore bool     `json:"hasMore"`
}

// Complete suggests values for argument (typed so far: value) of ref, on
// service ("" to resolve it across services); context holds the arguments
// already chosen (nil for none).
func (s *Store) Complete(service string, ref CompletionRef, argument, value string, context map[string]string) (*Completion, error) {
	refJSON, err := json.Marshal(ref)
	if err != nil {
		return nil, err
	}
	contextJSON := "{}"
	if context != nil {
		b, err := json.Marshal(context)
		if err != nil {
			return nil, err
		}
		contextJSON = string(b)
	}
	for what, v := range map[string]string{"argument": argument, "value": value, "context": contextJSON} {
		if err := checkString(what, v); err != nil {
			return nil, err
		}
	}
	cs, err := cStrings("service", service)
	defer freeStrings(cs)
	if err != nil {
		return nil, err
	}
	cRef, cArg, cValue, cContext := C.CString(string(refJSON)), C.CString(argument), C.CString(value), C.CString(contextJSON)
	defer freeStrings([]*C.char{cRef, cArg, cValue, cContext})
	text, err := s.stringCall(func(p *C.mcps_store, out **C.char, cerr **C.mcps_error) C.mcps_status {
		return C.mcps_store_complete(p, cs[0], cRef, cArg, cValue, cContext, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	var c Completion
	return &c, json.Unmarshal([]byte(text), &c)
}

// SetLogLevel sets the least severe level ("debug", "info", "notice",
// "warning", "error", "critical", "alert", "emergency") of the log messages
// the server of service ("" for every service that logs) sends; they arrive
// as "log" events.
func (s *Store) SetLogLevel(service, level string) error {
	cs, err := cStrings("service", service, "level", level)
	defer freeStrings(cs)
	if err != nil {
		return err
	}
	if level == "" {
		return &Error{Status: StatusInvalidArgument, Message: "level is empty"}
	}
	return s.with(func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_set_log_level(p, cs[0], cs[1], &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}
