identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
}

plugin "archive" {
  builtin = "localfs"
}

inbound "from-acme" {
  partners = [partner.acmee, "globex"]
  sink     = plugin.archive
}

outbound "to-acme" {
  source  = plugin.outbox
  partner = partner.acme
}
