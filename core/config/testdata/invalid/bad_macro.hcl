identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

plugin "archive" {
  builtin = "localfs"
}

inbound "a" {
  sink        = plugin.archive
  object_name = "%Originator%/%FileName%"
}

inbound "b" {
  sink        = plugin.archive
  object_name = "%virtualfilename%_%VirtualFileDate:yyyyMMddhh%"
}

inbound "c" {
  sink        = plugin.archive
  object_name = "%Originator%/%VirtualFileName"
}
