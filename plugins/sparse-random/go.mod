module github.com/gonbd/gonbd/plugins/sparse-random

go 1.24.0
