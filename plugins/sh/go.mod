module github.com/gonbd/gonbd/plugins/sh

go 1.24.0
