module github.com/gonbd/gonbd/plugins/random

go 1.24.0
