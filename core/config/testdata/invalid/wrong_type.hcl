identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
  restart  = "maybe"
  credit   = ["8"]
}
