package main

import (
	"net/http"
	"testing"

	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
	"github.com/jwtrevoke/revoke/examples/internal/scenario"
)

func TestScenario(t *testing.T) {
	scenario.Run(t, func(a *exampleauth.Auth) http.Handler { return newRouter(a) })
}
