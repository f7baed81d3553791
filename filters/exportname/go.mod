module github.com/gonbd/gonbd/filters/exportname

go 1.24.0
