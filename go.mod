module github.com/oftp2/connector

go 1.26
