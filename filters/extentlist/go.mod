module github.com/gonbd/gonbd/filters/extentlist

go 1.24.0
