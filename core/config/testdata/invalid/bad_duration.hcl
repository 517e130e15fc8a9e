identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
  timeout  = "5 minutes"
  address  = "oftp.acme.example"

  schedule {
    every = 900
  }
}
