package mcpstore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mcpstore.h"

// Defined in exports.go (//export); the same prototype cgo generates.
extern void mcpsGoAuthorizer(uintptr_t handle, char *service, char *url, char *redirect_uri,
                             uint64_t timeout_ms, mcps_authorization *authorization);

static void mcpsgo_authorizer_trampoline(void *userdata, const char *service, const char *url,
                                         const char *redirect_uri, uint64_t timeout_ms,
                                         mcps_authorization *authorization) {
	mcpsGoAuthorizer((uintptr_t)userdata, (char *)service, (char *)url, (char *)redirect_uri, timeout_ms,
	                 authorization);
}

// The setter with the trampoline and the cgo.Handle as userdata (0: removes the authorizer).
static mcps_status mcpsgo_set_authorizer(const mcps_store *s, uintptr_t handle, mcps_error **err) {
	return mcps_store_set_authorizer(s, handle != 0 ? mcpsgo_authorizer_trampoline : NULL, (void *)handle,
	                                 err);
}
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"time"
	"unsafe"
)

// AuthStatus is a service's OAuth authorization as it is now (no token or
// secret is ever part of it).
type AuthStatus struct {
	Service string `json:"service"`
	// Mode is "oauth", "client_credentials" or "none" (a service without OAuth).
	Mode string `json:"mode"`
	// Authorized says a valid access token is held (in memory or in the token store).
	Authorized bool `json:"authorized"`
	// Issuer, Resource and ClientID are "" until known.
	Issuer   string   `json:"issuer"`
	Resource string   `json:"resource"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	// ExpiresAt is when the access token expires (the zero Time when unknown).
	ExpiresAt time.Time `json:"-"`
	// Renewable says a refresh token or client credentials renew it without a user.
	Renewable bool `json:"renewable"`
}

func parseAuthStatus(text string) (*AuthStatus, error) {
	var raw struct {
		AuthStatus
		Issuer    *string `json:"issuer"`
		Resource  *string `json:"resource"`
		ClientID  *string `json:"client_id"`
		ExpiresAt *int64  `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, &Error{Status: StatusInternal, Message: "cannot decode the auth status: " + err.Error()}
	}
	st := raw.AuthStatus
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	st.Issuer, st.Resource, st.ClientID = deref(raw.Issuer), deref(raw.Resource), deref(raw.ClientID)
	if raw.ExpiresAt != nil {
		st.ExpiresAt = time.Unix(*raw.ExpiresAt, 0)
	}
	if st.Scopes == nil {
		st.Scopes = []string{}
	}
	return &st, nil
}

// AuthorizationRequest is one OAuth authorization for a user agent to complete.
type AuthorizationRequest struct {
	// Service is the service being authorized.
	Service string
	// URL is where the user agent goes (the authorization endpoint with the request's parameters).
	URL string
	// RedirectURI is where the authorization server sends the user agent back.
	RedirectURI string
	// Timeout is the time left until the library stops waiting.
	Timeout time.Duration
}

// Authorizer takes a user agent through req.URL and returns the full URL the
// authorization server redirected to (RedirectURI with code and state); an
// error fails the authorization (the login or call gets StatusAuth with its
// message). It runs on a goroutine of its own while the call that needs the
// authorization (AuthLogin, or a call refused by the server) waits up to
// req.Timeout; an answer after that is ignored. It must not wait for
// AuthLogin or calls of OAuth services of the same store to return.
type Authorizer func(req AuthorizationRequest) (string, error)

// SetAuthorizer makes a the store's authorizer, asked when a service needs a
// user to authorize it (AuthLogin, or a call refused without a token that
// can be renewed); nil removes it (then such calls fail with StatusAuth, and
// AuthLogin uses the built-in loopback authorizer, which prints the URL and
// waits for a browser). Once SetAuthorizer returned, the previous one is not
// started any more (one already started still answers).
func (s *Store) SetAuthorizer(a Authorizer) error {
	var h cgo.Handle
	if a != nil {
		h = cgo.NewHandle(a)
	}
	return s.setCallback("authorizer", h, func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcpsgo_set_authorizer(p, C.uintptr_t(h), &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// UseHeadlessAuthorizer makes the built-in headless authorizer the store's:
// it GETs the authorization URL without following redirects and answers with
// the Location (for authorization servers that redirect without asking a
// user). It replaces an Authorizer as SetAuthorizer does.
func (s *Store) UseHeadlessAuthorizer() error {
	return s.setCallback("authorizer", 0, func(p *C.mcps_store) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_use_headless_authorizer(p, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// serviceCall runs f with the live store and service as a C string.
func (s *Store) serviceCall(service string, f func(p *C.mcps_store, cService *C.char) error) error {
	if err := checkString("service", service); err != nil {
		return err
	}
	cService := C.CString(service)
	defer C.free(unsafe.Pointer(cService))
	return s.with(func(p *C.mcps_store) error { return f(p, cService) })
}

// AuthLogin authorizes service anew (an HTTP service with OAuth) through the
// store's authorizer, else the built-in loopback one, waiting up to timeout
// (0: 5 minutes), and returns its new status. An unknown service gives
// StatusServiceNotFound, one without OAuth StatusConfig, a failed step StatusAuth.
func (s *Store) AuthLogin(service string, timeout time.Duration) (*AuthStatus, error) {
	ms := uint64(0)
	if timeout > 0 {
		ms = uint64((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	var status *AuthStatus
	err := s.serviceCall(service, func(p *C.mcps_store, cService *C.char) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_auth_login(p, cService, C.uint64_t(ms), &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		var err error
		status, err = parseAuthStatus(takeString(out))
		return err
	})
	return status, err
}

// AuthLogout forgets service's OAuth credential, in memory and in the token
// store (a service without OAuth has nothing to forget).
func (s *Store) AuthLogout(service string) error {
	return s.serviceCall(service, func(p *C.mcps_store, cService *C.char) error {
		var cerr *C.mcps_error
		if st := C.mcps_store_auth_logout(p, cService, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		return nil
	})
}

// AuthStatus returns service's authorization now (no network, no secrets).
func (s *Store) AuthStatus(service string) (*AuthStatus, error) {
	var status *AuthStatus
	err := s.serviceCall(service, func(p *C.mcps_store, cService *C.char) error {
		var out *C.char
		var cerr *C.mcps_error
		if st := C.mcps_store_auth_status(p, cService, &out, &cerr); st != C.MCPS_OK {
			return takeError(st, cerr)
		}
		var err error
		status, err = parseAuthStatus(takeString(out))
		return err
	})
	return status, err
}

// answerAuthorization gives the Authorizer's outcome back to the library.
func answerAuthorization(a *C.mcps_authorization, redirect string, err error) {
	if err == nil && checkString("redirect", redirect) != nil {
		err = &Error{Status: StatusInvalidArgument, Message: "the redirect URL contains a NUL byte"}
	}
	if err != nil {
		msg := err.Error()
		if checkString("message", msg) != nil {
			msg = "the Go authorizer failed"
		}
		cMsg := C.CString(msg)
		defer C.free(unsafe.Pointer(cMsg))
		C.mcps_authorization_fail(a, cMsg, nil)
		return
	}
	cURL := C.CString(redirect)
	defer C.free(unsafe.Pointer(cURL))
	C.mcps_authorization_redirect(a, cURL, nil)
}
