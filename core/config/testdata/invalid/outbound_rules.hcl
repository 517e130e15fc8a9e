identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "receiver" {
  ssid            = "O0013000000RECEIVER"
  password        = "PW"
  connection_type = "receive"
}

partner "plain" {
  ssid     = "O0013000000PLAIN"
  password = "PW"
}

plugin "outbox" {
  builtin = "localfs"
}

outbound "a" {
  source  = plugin.outbox
  partner = partner.receiver
  format  = "F"
}

outbound "b" {
  source          = plugin.outbox
  partner         = partner.plain
  encrypt         = true
  sign            = true
  format          = "U"
  max_record_size = 80
  retry {
    backoff     = "1h"
    max_backoff = "10m"
  }
}
