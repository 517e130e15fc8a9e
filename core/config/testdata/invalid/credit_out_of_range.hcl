identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid        = "O0013000000PARTNER"
  password    = "PW"
  credit      = 1000
  buffer_size = 64
}
