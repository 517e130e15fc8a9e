identity {
  ssid     = "O0013000000ACME"
  password = "lower"
}

partner "acme" {
  ssid         = "O0013000000PARTNER"
  password     = "a b"
  our_password = "OK"
}
