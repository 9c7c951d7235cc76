package accesslog

// bracketTime reads a Common Log Format time, "[02/Jan/2006:15:04:05 -0700] ",
// and returns it as Unix seconds with its zone offset in seconds. Hand-written: time.Parse allocates for
// every zone it meets and costs more than the rest of the line.
func bracketTime(l []byte) (int64, int32, []byte, bool) {
	const n = 28 // len("[02/Jan/2006:15:04:05 -0700]")
	if len(l) < n || l[0] != '[' || l[n-1] != ']' || (len(l) > n && l[n] != ' ') {
		return 0, 0, l, false
	}
	b := l[1 : n-1]
	if b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, 0, l, false
	}
	day, ok1 := two(b[0:2])
	mon := month(b[3:6])
	yh, ok2 := two(b[7:9])
	yl, ok3 := two(b[9:11])
	hh, ok4 := two(b[12:14])
	mm, ok5 := two(b[15:17])
	ss, ok6 := two(b[18:20])
	zh, ok7 := two(b[22:24])
	zm, ok8 := two(b[24:26])
	sign := b[21]
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || mon == 0 || (sign != '+' && sign != '-') ||
		day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59 {
		return 0, 0, l, false
	}
	year := yh*100 + yl
	if year < 1970 {
		return 0, 0, l, false // no access log predates Unix time
	}
	t := daysFromCivil(year, mon, day)*86400 + int64(hh*3600+mm*60+ss)
	off := int64(zh*3600 + zm*60)
	if sign == '-' {
		off = -off
	}
	t -= off
	rest := l[n:]
	if len(rest) > 0 {
		rest = rest[1:]
	}
	return t, int32(off), rest, true
}

func two(b []byte) (int, bool) {
	if !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// month maps "Jan".."Dec" to 1..12, anything else to 0.
func month(b []byte) int {
	switch string(b) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
