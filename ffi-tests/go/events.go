package mcpstore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mcpstore.h"

// Defined in exports.go (//export); the same prototype cgo generates.
extern void mcpsGoEvent(uintptr_t handle, char *event_json);

static void mcpsgo_event_trampoline(void *userdata, const char *event_json) {
	mcpsGoEvent((uintptr_t)userdata, (char *)event_json);
}

// Sets the trampoline with the cgo.Handle as userdata (0: removes the callback).
static mcps_status mcpsgo_on_event(const mcps_store *s, uintptr_t handle) {
	return mcps_store_on_event(s, handle != 0 ? mcpsgo_event_trampoline : NULL, (void *)handle);
}
*/
import "C"

import (
	"encoding/json"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
)

// Event is something that happened at a service: Type is one of
// "tools_list_changed", "resources_list_changed", "prompts_list_changed",
// "resource_updated", "log", "progress", "elicitation_complete",
// "service_state"; JSON is the whole event (see docs/c-api.md).
type Event struct {
	Type    string `json:"type"`
	Service string `json:"service"`
	URI     string `json:"uri,omitempty"`   // resource_updated
	Level   string `json:"level,omitempty"` // log
	JSON    string `json:"-"`
}

func eventFrom(text string) Event {
	e := Event{JSON: text}
	_ = json.Unmarshal([]byte(text), &e)
	return e
}

// Decode unmarshals the event's JSON into v.
func (e Event) Decode(v any) error {
	return json.Unmarshal([]byte(e.JSON), v)
}

// callbacks holds the cgo.Handles of a store's event callback and handlers.
type callbacks struct {
	mu      sync.Mutex
	handles map[string]cgo.Handle
}

// replace runs set (the C setter) and then, the previous callback of key
// having returned, deletes its handle. h == 0 removes the key.
func (c *callbacks) replace(key string, h cgo.Handle, set func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := set(); err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	if old, ok := c.handles[key]; ok {
		old.Delete() // the C setter returned: the old callback is not running
	}
	if h == 0 {
		delete(c.handles, key)
		return nil
	}
	if c.handles == nil {
		c.handles = map[string]cgo.Handle{}
	}
	c.handles[key] = h
	return nil
}

// deleteAll deletes every handle (the C store was freed).
func (c *callbacks) deleteAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, h := range c.handles {
		h.Delete()
		delete(c.handles, key)
	}
}

// OnEvent runs f with every event of the store, on the store's dispatch
// thread, one at a time and in order; nil removes it. Replacing or removing
// it returns once a running call of the previous f returned. f must not wait
// for a goroutine that is replacing it or closing the store.
func (s *Store) OnEvent(f func(Event)) error {
	var h cgo.Handle
	if f != nil {
		h = cgo.NewHandle(f)
	}
	return s.setCallback("event", h, func(p *C.mcps_store) error {
		if st := C.mcpsgo_on_event(p, C.uintptr_t(h)); st != C.MCPS_OK {
			return &Error{Status: Status(st), Message: "mcps_store_on_event failed"}
		}
		return nil
	})
}

// setCallback runs the C setter set (which installs h, 0 for none) under
// key, deleting the handle it replaces, or h itself when it fails.
func (s *Store) setCallback(key string, h cgo.Handle, set func(*C.mcps_store) error) error {
	err := s.with(func(p *C.mcps_store) error {
		return s.callbacks.replace(key, h, func() error { return set(p) })
	})
	if err == ErrClosed && h != 0 {
		h.Delete() // never installed
	}
	return err
}

// EventQueue receives every event of its store from its creation on
// (bounded: when full, new events are dropped and counted). Close frees it.
type EventQueue struct {
	mu  sync.RWMutex
	ptr *C.mcps_event_queue
}

// NewEventQueue makes a queue of the store's events.
func (s *Store) NewEventQueue() (*EventQueue, error) {
	var q *EventQueue
	err := s.with(func(p *C.mcps_store) error {
		var ptr *C.mcps_event_queue
		var cerr *C.mcps_error
		if st := C.mcps_store_event_queue_new(p, &ptr, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		q = &EventQueue{ptr: ptr}
		runtime.SetFinalizer(q, func(q *EventQueue) { q.Close() })
		return nil
	})
	return q, err
}

// Next takes the next event, waiting up to timeout (0: do not wait; < 0: no
// limit). No event in time: an *Error with StatusNotReady; the store closed
// and the queue drained: StatusClosed.
func (q *EventQueue) Next(timeout time.Duration) (Event, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.ptr == nil {
		return Event{}, ErrClosed
	}
	ms := C.uint64_t(math.MaxUint64)
	if timeout >= 0 {
		ms = C.uint64_t(timeout.Milliseconds())
	}
	var out *C.char
	var cerr *C.mcps_error
	if st := C.mcps_event_queue_next(q.ptr, ms, &out, &cerr); st != C.MCPS_OK {
		return Event{}, takeError(st, cerr)
	}
	return eventFrom(takeString(out)), nil
}

// Dropped is how many events the queue dropped because it was full.
func (q *EventQueue) Dropped() uint64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return uint64(C.mcps_event_queue_dropped(q.ptr))
}

// Close frees the queue (waiting for a Next in progress); closing twice is a no-op.
func (q *EventQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ptr != nil {
		C.mcps_event_queue_free(q.ptr)
		q.ptr = nil
		runtime.SetFinalizer(q, nil)
	}
}
