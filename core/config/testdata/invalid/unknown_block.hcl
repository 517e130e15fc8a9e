identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partners "acme" {
  ssid = "O0013000000PARTNER"
}
