module github.com/gonbd/gonbd/server/apitest

go 1.24.0
