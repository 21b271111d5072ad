// Package deps pins the chosen third-party modules while the packages that use them are written.
package deps

import (
	_ "github.com/creack/pty"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "go.bug.st/serial"
	_ "go.bug.st/serial/enumerator"
	_ "go.yaml.in/yaml/v3"
)
