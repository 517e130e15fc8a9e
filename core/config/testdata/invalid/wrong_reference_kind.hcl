identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
}

inbound "from-acme" {
  sink = partner.acme
}

outbound "to-acme" {
  source    = plugin
  partner   = partner.acme
  sign_with = keys.main.cert
}
