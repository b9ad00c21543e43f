module example.com/airheal-demo

go 1.19
