# A working pair of connectors on one machine, with no external service.
#
# This file describes two trading partners, "a" and "b"; the variable side picks which
# one a process is. Each listens for OFTP 2.0 over TLS on 127.0.0.1 and calls the other.
# A file dropped into a/outbox travels over OFTP to b, is stored by b's localfs plugin
# in b/inbox/<originator>/, and when b's end-to-end response (EERP) comes back, the
# file moves to a/outbox/sent. The same works from b/outbox to a/inbox.
#
#   cd examples
#   go run ../cmd/connector run connector.hcl                 # partner a
#   go run ../cmd/connector run -var side=b connector.hcl     # partner b, second terminal
#   echo hello > a/outbox/.hello.tmp && mv a/outbox/.hello.tmp a/outbox/HELLO.TXT
#
# Drop files under a hidden name and rename them, so that a half-written file is never
# picked up. Paths in plugin config blocks are relative to the directory the connector
# runs in; the other paths are relative to this file.
#
# The certificates in tls/ are EXAMPLES ONLY (their private key is published with this
# file): replace them before talking to anyone else.

variable "side" {
  type    = string
  default = "a"
}

variable "port_a" {
  type    = number
  default = 6619
}

variable "port_b" {
  type    = number
  default = 6620
}

connector {
  state_dir = "./${var.side}/state"
  log_level = "info"
}

listener "local" {
  address = "127.0.0.1:${var.side == "a" ? var.port_a : var.port_b}"
  tls {
    cert_file = "tls/EXAMPLE-server.pem"
    key_file  = "tls/EXAMPLE-server.key"
  }
}

identity {
  ssid     = var.side == "a" ? "O0013EXAMPLEA" : "O0013EXAMPLEB"
  password = var.side == "a" ? "SECRETA" : "SECRETB"
}

# The other side: what it sends us in SSID, and where it listens.
partner "peer" {
  ssid         = var.side == "a" ? "O0013EXAMPLEB" : "O0013EXAMPLEA"
  password     = var.side == "a" ? "SECRETB" : "SECRETA"
  address      = "127.0.0.1:${var.side == "a" ? var.port_b : var.port_a}"
  tls          = true
  ca_file      = "tls/EXAMPLE-ca.pem"
  server_name  = "localhost"
}

plugin "inbox" {
  builtin = "localfs"
  config {
    path        = "./${var.side}/inbox"
    create_dirs = true
  }
}

plugin "outbox" {
  builtin = "localfs"
  config {
    path        = "./${var.side}/outbox"
    create_dirs = true
  }
}

inbound "everything" {
  sink        = plugin.inbox
  object_name = "%Originator%/%VirtualFileName%"
}

outbound "to-peer" {
  source  = plugin.outbox
  partner = partner.peer
  poll    = "2s"
  retry {
    max_attempts = 5
    backoff      = "5s"
    max_backoff  = "1m"
  }
}
