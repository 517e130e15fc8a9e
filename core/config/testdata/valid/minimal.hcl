identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}
