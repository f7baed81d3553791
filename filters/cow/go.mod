module github.com/gonbd/gonbd/filters/cow

go 1.24.0
